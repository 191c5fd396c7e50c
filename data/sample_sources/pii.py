"""Planted and naturally occurring PII (emails, phones, IPs, credit cards) in the sample."""

from __future__ import annotations

import ipaddress
import random
import re
from collections import defaultdict

from sample_sources.common import Doc, Span
from sample_sources.web_crawl import NAV

FIRST = [
    "anna",
    "ben",
    "carla",
    "david",
    "elena",
    "felix",
    "greta",
    "hugo",
    "ines",
    "jonas",
    "karla",
    "luis",
    "maria",
    "nora",
    "olaf",
]
LAST = [
    "smith",
    "mueller",
    "martin",
    "garcia",
    "dubois",
    "schmidt",
    "lopez",
    "bernard",
    "weber",
    "fernandez",
    "moreau",
]
MAIL_HOSTS = ["example.com", "example.org", "example.net", "mail.example", "post.test"]
PII_LEAD: dict[str, dict[str, list[str]]] = {
    "email": {
        "en": ["Contact: {v}", "Questions? Write to {v}", "Send your comments to {v}."],
        "de": ["Kontakt: {v}", "Fragen bitte an {v}"],
        "fr": ["Contact : {v}", "Écrivez-nous à {v}"],
        "es": ["Contacto: {v}", "Escríbanos a {v}"],
    },
    "phone": {
        "en": ["Call us at {v}", "Phone: {v}", "Support hotline {v} (Mon-Fri)"],
        "de": ["Telefon: {v}", "Rufen Sie uns an: {v}"],
        "fr": ["Téléphone : {v}", "Appelez-nous au {v}"],
        "es": ["Teléfono: {v}", "Llámenos al {v}"],
    },
    "ipv4": {
        "en": ["Posted from {v}", "Server address: {v}", "Last login from {v}"],
        "de": ["Letzte Anmeldung von {v}"],
        "fr": ["Dernière connexion depuis {v}"],
        "es": ["Último acceso desde {v}"],
    },
    "ipv6": {
        "en": ["Posted from {v}", "Client address: {v}"],
        "de": ["Letzte Anmeldung von {v}"],
        "fr": ["Connexion depuis {v}"],
        "es": ["Acceso desde {v}"],
    },
    "credit_card": {
        "en": ["Card number: {v}", "Paid with card {v}"],
        "de": ["Kartennummer: {v}"],
        "fr": ["Numéro de carte : {v}"],
        "es": ["Número de tarjeta: {v}"],
    },
    "luhn_invalid_card": {
        "en": ["Order reference: {v}", "Tracking number {v}"],
        "de": ["Bestellnummer: {v}"],
        "fr": ["Référence de commande : {v}"],
        "es": ["Referencia del pedido: {v}"],
    },
}


def digits(rng: random.Random, n: int) -> str:
    """Return ``n`` random decimal digits."""
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def luhn_ok(number: str) -> bool:
    """Return True if the digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_digit(partial: str) -> str:
    """Return the Luhn check digit completing ``partial``."""
    for d in "0123456789":
        if luhn_ok(partial + d):
            return d
    raise AssertionError("unreachable")


def make_value(rng: random.Random, kind: str) -> str:
    """Return one synthetic PII (or decoy) value of ``kind``."""
    if kind == "email":
        sep = rng.choice([".", "_", ""])
        suffix = rng.choice(["", str(rng.randint(1, 99))])
        user = f"{rng.choice(FIRST)}{sep}{rng.choice(LAST)}{suffix}"
        return f"{user}@{rng.choice(MAIL_HOSTS)}"
    if kind == "phone":
        fmt = rng.randrange(9)
        if fmt == 0:
            return f"({rng.randint(201, 989)}) 555-{digits(rng, 4)}"
        if fmt == 1:
            return f"+1 {rng.randint(201, 989)}-555-{digits(rng, 4)}"
        if fmt == 2:
            return f"+44 20 7946 {digits(rng, 4)}"
        if fmt == 3:
            return f"020 7946 {digits(rng, 4)}"
        if fmt == 4:
            return f"+49 30 {digits(rng, 8)}"
        if fmt == 5:
            return f"+49 (0)89 {digits(rng, 4)} {digits(rng, 4)}"
        if fmt == 6:
            return f"+33 1 {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)}"
        if fmt == 7:
            return f"+34 91{digits(rng, 1)} {digits(rng, 3)} {digits(rng, 3)}"
        return f"+91 9{digits(rng, 4)} {digits(rng, 5)}"
    if kind == "ipv4":
        octets = [rng.randint(11, 223)] + [rng.randint(0, 255) for _ in range(3)]
        return ".".join(str(x) for x in octets)
    if kind == "ipv6":
        groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
        groups[0] = rng.choice(["2001", "2a02", "2600", "fe80", "2001"])
        if rng.random() < 0.5:
            groups[3:6] = ["0", "0", "0"]
        return str(ipaddress.IPv6Address(":".join(groups)))
    prefix = rng.choice(["4", "51", "52", "53", "54", "55", "6011", "34", "37"])
    length = 15 if prefix in {"34", "37"} else 16
    body = prefix + digits(rng, length - len(prefix) - 1)
    check = luhn_digit(body)
    if kind == "luhn_invalid_card":
        body = "4" + digits(rng, 14)
        check = str((int(luhn_digit(body)) + rng.randint(1, 9)) % 10)
    number = body + check
    style = rng.randrange(3)
    if style == 0:
        return number
    sep = " " if style == 1 else "-"
    if length == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def insert_pii(rng: random.Random, doc: Doc, kinds: list[str]) -> None:
    """Insert one sentence per kind at random line boundaries, recording exact spans."""
    lang = doc.lang if doc.lang in NAV else "en"
    lines = doc.text.split("\n")
    positions = sorted(rng.randint(1, max(1, len(lines) - 1)) for _ in kinds)
    inserts: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for pos, kind in zip(positions, kinds, strict=True):
        value = make_value(rng, kind)
        inserts[pos].append((kind, rng.choice(PII_LEAD[kind][lang]), value))
    out: list[str] = []
    offset = 0
    spans: list[Span] = []
    for i, line in enumerate(lines):
        for kind, lead, value in inserts.get(i, []):
            pre, post = lead.split("{v}")
            sentence = pre + value + post
            start = offset + len(pre)
            spans.append(Span(kind, start, start + len(value), value))
            out.append(sentence)
            offset += len(sentence) + 1
        out.append(line)
        offset += len(line) + 1
    doc.text = "\n".join(out)
    doc.pii = [s for s in spans if s.kind != "luhn_invalid_card"]
    doc.not_pii = [s for s in spans if s.kind == "luhn_invalid_card"]


EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
IPV6_RE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def natural_pii(text: str, taken: list[Span]) -> list[Span]:
    """Find e-mail, IPv4 and IPv6 strings already present in real text (``planted`` False)."""
    found: list[Span] = []
    busy = [(s.start, s.end) for s in taken]

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in busy)

    for m in EMAIL_RE.finditer(text):
        found.append(Span("email", m.start(), m.end(), m.group(), planted=False))
    for m in IPV4_RE.finditer(text):
        if all(int(p) <= 255 for p in m.group().split(".")):
            found.append(Span("ipv4", m.start(), m.end(), m.group(), planted=False))
    for m in IPV6_RE.finditer(text):
        v = m.group()
        if v.count(":") < 2 or sum(bool(g) for g in v.split(":")) < 2:
            continue
        try:
            ipaddress.IPv6Address(v)
        except ValueError:
            continue
        found.append(Span("ipv6", m.start(), m.end(), v, planted=False))
    found.sort(key=lambda s: (s.start, s.end))
    out: list[Span] = []
    for s in found:
        if free(s.start, s.end) and all(s.end <= o.start or s.start >= o.end for o in out):
            out.append(s)
    return out
