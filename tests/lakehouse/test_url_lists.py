from pathlib import Path

import pytest

from lakehouse.recipe import CleanConfig
from lakehouse.url_lists import UrlListError, UrlLists, load_url_lists, read_list, url_signals

LISTS = UrlLists(
    blocked_domains=frozenset({"spam.example", "ads.news.example"}),
    banned_words=frozenset({"casino", "xxx"}),
)


def fired(url: str | None, lists: UrlLists = LISTS) -> dict[str, int | None]:
    return {name: value for name, value in url_signals(url, lists).items() if value}


def test_a_url_without_problems_fires_nothing() -> None:
    signals = url_signals("https://www.news.example/2026/10/flood?page=2", LISTS)
    assert signals == {
        "url_malformed": 0,
        "url_not_http": 0,
        "url_blocked_domain": 0,
        "url_domain_not_allowed": 0,
        "url_banned_words": 0,
    }


def test_no_url_gives_null_signals() -> None:
    assert set(url_signals(None, LISTS).values()) == {None}
    assert set(url_signals("  ", LISTS).values()) == {None}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://spam.example/a", {"url_blocked_domain": 1}),
        ("http://a.b.SPAM.example./x", {"url_blocked_domain": 1}),
        ("https://notspam.example/", {}),
        ("https://ads.news.example/x", {"url_blocked_domain": 1}),
        ("https://news.example/x", {}),
        ("https://shop.example/best-casino-bonus", {"url_banned_words": 1}),
        ("https://shop.example/occasional?q=xxx&casino=1", {"url_banned_words": 2}),
        ("ftp://files.example/a.txt", {"url_not_http": 1}),
        ("mailto:someone@example.org", {"url_malformed": 1}),
        ("https:///no-host", {"url_malformed": 1}),
        ("https://bad_host!.example/", {"url_malformed": 1}),
        ("http://[::1/", {"url_malformed": 1}),
        ("news.example/no-scheme", {"url_malformed": 1}),
    ],
)
def test_each_rule_fires_for_its_urls(url: str, expected: dict[str, int]) -> None:
    assert fired(url) == expected


def test_allow_list_keeps_listed_domains_and_their_subdomains_only() -> None:
    allow = UrlLists(allowed_domains=frozenset({"wiki.example"}))
    assert fired("https://de.wiki.example/Seite", allow) == {}
    assert fired("https://other.example/", allow) == {"url_domain_not_allowed": 1}


def test_lists_are_read_from_files_next_to_the_recipe(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "block.txt").write_text("# spam\nSpam.Example\n\nads.example  # ads\n")
    (tmp_path / "lists" / "words.txt").write_text("casino\n")
    config = CleanConfig.model_validate(
        {
            "url": {
                "block_domains_file": "lists/block.txt",
                "banned_words_file": "lists/words.txt",
                "banned_words": ["Poker"],
            }
        }
    ).url
    lists = load_url_lists(config, tmp_path)
    assert lists.blocked_domains == {"spam.example", "ads.example"}
    assert lists.banned_words == {"casino", "poker"}
    assert lists.allowed_domains == frozenset()
    assert lists.fingerprint() != UrlLists().fingerprint()


def test_a_missing_list_names_the_key_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UrlListError, match=r"clean.url.block_domains_file: cannot read the list"):
        read_list(tmp_path / "nope.txt", "clean.url.block_domains_file")
    config = CleanConfig.model_validate({"url": {"allow_domains_file": "gone.txt"}}).url
    with pytest.raises(UrlListError, match=r"create the file .* or set the key to null"):
        load_url_lists(config, tmp_path)
