"""The sample's `web_crawl` source: real documents wrapped in site boilerplate, and planted junk."""

from __future__ import annotations

import random

from sample_sources.common import WORD_RE

SITE_WORDS = [
    "river",
    "stone",
    "maple",
    "cedar",
    "pixel",
    "orbit",
    "harbor",
    "signal",
    "lantern",
    "summit",
    "copper",
    "meadow",
    "falcon",
    "quartz",
    "ember",
    "willow",
    "atlas",
    "nimbus",
    "delta",
    "vertex",
]
TLDS = ["example", "example.com", "example.net", "example.org", "test"]
NAV: dict[str, list[str]] = {
    "en": [
        "Home",
        "About",
        "Blog",
        "Docs",
        "Forum",
        "Contact",
        "Archive",
        "Login",
        "Sign up",
        "Search",
        "Categories",
        "Tags",
        "Downloads",
        "Help",
        "News",
        "Shop",
    ],
    "de": [
        "Startseite",
        "Über uns",
        "Blog",
        "Kontakt",
        "Archiv",
        "Anmelden",
        "Registrieren",
        "Suche",
        "Kategorien",
        "Hilfe",
        "Impressum",
        "Datenschutz",
    ],
    "fr": [
        "Accueil",
        "À propos",
        "Blog",
        "Contact",
        "Archives",
        "Connexion",
        "Inscription",
        "Recherche",
        "Catégories",
        "Aide",
        "Mentions légales",
    ],
    "es": [
        "Inicio",
        "Acerca de",
        "Blog",
        "Contacto",
        "Archivo",
        "Iniciar sesión",
        "Registrarse",
        "Buscar",
        "Categorías",
        "Ayuda",
        "Aviso legal",
    ],
}
COOKIE: dict[str, list[str]] = {
    "en": [
        "We use cookies to improve your experience. By continuing you agree to our use of "
        "cookies. Accept | Decline",
        "This site uses cookies. Learn more in our Cookie Policy. [OK]",
    ],
    "de": [
        "Diese Website verwendet Cookies. Mit der Nutzung stimmen Sie der Verwendung von "
        "Cookies zu. Akzeptieren | Ablehnen"
    ],
    "fr": ["Ce site utilise des cookies pour améliorer votre expérience. Accepter | Refuser"],
    "es": ["Este sitio utiliza cookies para mejorar su experiencia. Aceptar | Rechazar"],
}
FOOTER: dict[str, list[str]] = {
    "en": [
        "All rights reserved.",
        "Privacy Policy | Terms of Use | Sitemap",
        "Share: Twitter Facebook LinkedIn Email",
        "Subscribe to our newsletter",
        "Back to top",
        "Powered by WordPress",
        "Related posts",
        "Leave a comment",
    ],
    "de": [
        "Alle Rechte vorbehalten.",
        "Impressum | Datenschutz | AGB",
        "Newsletter abonnieren",
        "Nach oben",
        "Teilen: Twitter Facebook",
        "Kommentar schreiben",
    ],
    "fr": [
        "Tous droits réservés.",
        "Mentions légales | Confidentialité | Plan du site",
        "S'abonner à la newsletter",
        "Haut de page",
        "Partager : Twitter Facebook",
    ],
    "es": [
        "Todos los derechos reservados.",
        "Aviso legal | Privacidad | Mapa del sitio",
        "Suscríbete al boletín",
        "Volver arriba",
        "Compartir: Twitter Facebook",
    ],
}
SPAM_PRODUCTS = [
    "replica watches",
    "cheap pills",
    "crypto bonus",
    "casino chips",
    "weight loss tea",
    "designer bags",
    "payday loans",
    "followers",
    "SEO backlinks",
    "miracle cream",
    "forex signals",
    "free gift cards",
]
SPAM_LINES = [
    "BUY {p} NOW!!! Lowest price guaranteed, only ${n}.99 today!",
    "Click here >>> http://{site}/{slug} <<< to claim your {p}",
    "Limited offer: {n}% OFF all {p}. Hurry, only {m} left in stock!!!",
    "Best {p} online, no prescription, fast worldwide shipping.",
    "Earn ${n}00 per day from home with {p}, no experience needed!!",
    "Congratulations! You have been selected to receive FREE {p}.",
    "100% legit {p} - trusted by {n},000 customers - order now",
]
STUFF_TOPICS = [
    ["cheap flights", "flight deals", "best airfare", "last minute flights", "book flights"],
    ["best vpn", "vpn free", "fast vpn", "secure vpn", "vpn download"],
    ["dentist near me", "emergency dentist", "teeth whitening", "cheap dentist"],
    ["buy sneakers", "sneakers sale", "cheap sneakers", "running shoes", "sneakers online"],
    ["hotel deals", "cheap hotels", "hotel booking", "best hotels", "luxury hotels cheap"],
    ["car insurance", "cheap car insurance", "insurance quotes", "best insurance"],
]
SHORT_PAGES = [
    "404 Not Found",
    "Page not found.",
    "Loading...",
    "Access denied",
    "Coming soon!",
    "This page has moved.",
    "Please enable JavaScript to view this site.",
    "Subscribe",
    "Error 503 Service Unavailable",
    "Redirecting...",
    "Session expired. Please log in again.",
    "Under construction",
    "Nothing here yet.",
    "Forbidden",
]
LOREM = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "ut",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "ut",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "dolor",
    "in",
    "reprehenderit",
    "in",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "dolore",
    "eu",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "in",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
]


def site(rng: random.Random) -> str:
    """Return a fictional web host name under a reserved top-level domain."""
    return f"www.{rng.choice(SITE_WORDS)}{rng.choice(SITE_WORDS)}.{rng.choice(TLDS)}"


def slug(rng: random.Random, text: str = "") -> str:
    """Return a URL path built from a few words of ``text`` (or random letters)."""
    toks = [t for t in WORD_RE.findall(text.lower()[:300]) if t.isascii()][:5]
    if not toks:
        toks = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6))]
    return "-".join(toks) + f"-{rng.randint(1, 99999)}"


def nav_line(rng: random.Random, lang: str) -> str:
    """Return one navigation-menu line."""
    items = rng.sample(NAV[lang], rng.randint(4, min(8, len(NAV[lang]))))
    return rng.choice([" | ", "  ", " · ", " / "]).join(items)


def wrap_page(rng: random.Random, text: str, lang: str, host: str, title: str) -> str:
    """Wrap ``text`` into a crawled page: header, navigation, cookie banner and footer lines."""
    head = [host.removeprefix("www.").split(".")[0].capitalize(), nav_line(rng, lang)]
    if rng.random() < 0.6:
        head.append(rng.choice(COOKIE[lang]))
    head.append(title)
    foot = rng.sample(FOOTER[lang], rng.randint(2, 4))
    foot.append(f"© {rng.randint(2009, 2024)} {head[0]}")
    return "\n".join(head) + "\n\n" + text + "\n\n" + "\n".join(foot)


def make_junk(rng: random.Random, kind: str) -> tuple[str, str]:
    """Return ``(text, lang)`` for one synthetic junk page of the given kind."""
    if kind == "boilerplate":
        lang = rng.choice(["en", "en", "en", "de", "fr", "es"])
        lines = [nav_line(rng, lang) for _ in range(rng.randint(2, 5))]
        lines += rng.sample(COOKIE[lang], 1)
        lines += rng.sample(FOOTER[lang], rng.randint(2, len(FOOTER[lang]) - 1))
        lines.append(f"© {rng.randint(2005, 2024)} {rng.choice(SITE_WORDS).capitalize()}")
        rng.shuffle(lines)
        return "\n".join(lines), lang
    if kind == "spam":
        lines = []
        for _ in range(rng.randint(5, 14)):
            lines.append(
                rng.choice(SPAM_LINES).format(
                    p=rng.choice(SPAM_PRODUCTS),
                    n=rng.randint(2, 95),
                    m=rng.randint(2, 9),
                    site=site(rng),
                    slug=slug(rng),
                )
            )
        return "\n".join(lines), "en"
    if kind == "lorem_ipsum":
        paras = []
        for _ in range(rng.randint(1, 5)):
            n = rng.randint(30, 120)
            ws = [rng.choice(LOREM) for _ in range(n)]
            sent, out = 0, []
            for w in ws:
                out.append(w.capitalize() if sent == 0 else w)
                sent += 1
                if sent > rng.randint(6, 14):
                    out[-1] += "."
                    sent = 0
            paras.append(" ".join(out).rstrip(".") + ".")
        return "\n\n".join(paras), "la"
    if kind == "keyword_stuffing":
        topic = rng.choice(STUFF_TOPICS)
        city = rng.choice(["London", "Berlin", "Paris", "Madrid", "Chicago", "Toronto", "Sydney"])
        parts = []
        for _ in range(rng.randint(40, 160)):
            kw = rng.choice(topic)
            parts.append(rng.choice([kw, f"{kw} {city}", f"{kw} {rng.randint(2019, 2025)}"]))
        return ", ".join(parts) + ".", "en"
    text = rng.choice(SHORT_PAGES)
    if rng.random() < 0.7:
        text = f"{text} {rng.choice(['Home', 'Back', 'Retry', 'Menu', '|', '-'])}"
    if rng.random() < 0.8:
        text = f"{text} {rng.choice(SITE_WORDS).capitalize()}{rng.choice(SITE_WORDS)}"
    return text, "en"
