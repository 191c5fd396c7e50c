"""Hand-written paragraphs in ten languages, good and junk, for the per-language rules.

For each of de, fr, es, it, pt, nl, pl, ru, ja and zh: one good document (two paragraphs of
ordinary prose, six or more sentences) that the default recipe keeps, and junk that it drops,
each kind with the rule that should drop it:

- `too_short`: the good document's first paragraph alone, `gopher_short_doc` (fewer than 50
  words; zh and ja: fewer than 100 characters);
- `repeated_lines`: one line four times over, `gopher_dup_line_frac`;
- `no_stop_words` (de, fr, es): a shop's keyword list without one function word,
  `gopher_too_few_stop_words` (a rule English stop words would fire on good text too).

Written for this project and released with it (CC0-1.0). `tests/spark_jobs/test_clean.py` runs
them through the clean stage's Spark steps; `build_multilingual` writes them as the sample's
`multilingual` source (`landing/multilingual/part-00000.jsonl.gz`) with their ground truth.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

GOOD: dict[str, str] = {
    "de": (
        "Die kleine Stadt liegt an einem breiten Fluss, und ihre Geschichte reicht weit in das "
        "Mittelalter zurück. Die Händler kamen mit ihren Booten, um Salz und Getreide zu "
        "verkaufen. Mit dem Geld der Kaufleute wurde eine steinerne Brücke gebaut, die bis heute "
        "steht.\n"
        "Heute ist der alte Marktplatz das Herz der Stadt. Im Sommer sitzen die Menschen in den "
        "Cafés am Ufer und sehen den Schiffen zu. Im Winter ist es ruhig, und nur die Bäckerei hat "
        "bis zum Abend geöffnet. Viele Besucher kommen wegen der Kirche, die eine der ältesten in "
        "der Region ist."
    ),
    "fr": (
        "La petite ville se trouve au bord d'une large rivière, et son histoire remonte au Moyen "
        "Âge. Les marchands arrivaient en bateau pour vendre du sel et du blé. Avec leur argent, "
        "les habitants ont construit un pont de pierre qui existe encore aujourd'hui.\n"
        "La vieille place du marché est toujours le cœur de la ville. En été, les gens s'assoient "
        "dans les cafés le long du quai et regardent passer les bateaux. En hiver, tout est calme "
        "et seule la boulangerie reste ouverte jusqu'au soir. Beaucoup de visiteurs viennent pour "
        "voir l'église, qui est une des plus anciennes de la région."
    ),
    "es": (
        "La pequeña ciudad se encuentra junto a un río ancho, y su historia comienza en la Edad "
        "Media. Los comerciantes llegaban en barcos para vender sal y trigo. Con el dinero de los "
        "mercaderes se construyó un puente de piedra que todavía existe.\n"
        "Hoy la antigua plaza del mercado sigue siendo el corazón de la ciudad. En verano, los "
        "vecinos se sientan en las terrazas del paseo y miran pasar los barcos. En invierno todo "
        "está tranquilo, y solamente la panadería permanece abierta hasta la noche. Muchos "
        "visitantes vienen para conocer la iglesia, una de las más antiguas de la comarca."
    ),
    "it": (
        "La piccola città si trova sulle rive di un fiume largo, e la sua storia risale al "
        "Medioevo. I mercanti arrivavano in barca per vendere sale e grano. Con il denaro dei "
        "commercianti fu costruito un ponte di pietra che esiste ancora oggi.\n"
        "La vecchia piazza del mercato è ancora il cuore della città. In estate la gente si siede "
        "nei caffè lungo il fiume e guarda passare le barche. In inverno tutto è tranquillo, e "
        "solo il panificio resta aperto fino a sera. Molti visitatori vengono per vedere la "
        "chiesa, che è una delle più antiche della regione."
    ),
    "pt": (
        "A pequena cidade fica na margem de um rio largo, e a sua história começa na Idade Média. "
        "Os comerciantes chegavam de barco para vender sal e trigo. Com o dinheiro dos mercadores "
        "foi construída uma ponte de pedra que ainda existe.\n"
        "Hoje a antiga praça do mercado continua a ser o coração da cidade. No verão, as pessoas "
        "sentam-se nos cafés junto ao rio e olham para os barcos que passam. No inverno tudo fica "
        "calmo, e só a padaria permanece aberta até à noite. Muitos visitantes vêm para conhecer "
        "a igreja, que é uma das mais antigas da região."
    ),
    "nl": (
        "Het kleine stadje ligt aan een brede rivier, en de geschiedenis ervan gaat terug tot de "
        "middeleeuwen. De handelaren kwamen met hun boten om zout en graan te verkopen. Met het "
        "geld van de kooplieden werd een stenen brug gebouwd die er nog steeds staat.\n"
        "Vandaag is het oude marktplein nog altijd het hart van de stad. In de zomer zitten de "
        "mensen op de terrassen aan het water en kijken ze naar de schepen. In de winter is het "
        "stil, en alleen de bakker is tot de avond open. Veel bezoekers komen voor de kerk, die "
        "een van de oudste in de streek is."
    ),
    "pl": (
        "Małe miasto leży nad szeroką rzeką, a jego historia sięga średniowiecza. Kupcy "
        "przypływali łodziami, aby sprzedawać sól i zboże. Za pieniądze handlarzy zbudowano "
        "kamienny most, który stoi do dziś.\n"
        "Dzisiaj stary rynek jest nadal sercem miasta. Latem ludzie siedzą w kawiarniach nad "
        "rzeką i patrzą na przepływające statki. Zimą jest cicho, a tylko piekarnia jest otwarta "
        "do wieczora. Wielu turystów przyjeżdża, żeby zobaczyć kościół, który jest jednym z "
        "najstarszych w całym regionie."
    ),
    "ru": (
        "Маленький город стоит на берегу широкой реки, и его история начинается в средние века. "
        "Купцы приплывали на лодках, чтобы продавать соль и зерно. На деньги торговцев был "
        "построен каменный мост, который стоит до сих пор.\n"
        "Сегодня старая рыночная площадь по-прежнему остаётся сердцем города. Летом люди сидят в "
        "кафе на набережной и смотрят на проплывающие корабли. Зимой здесь тихо, и только "
        "пекарня работает до самого вечера. Многие туристы приезжают, чтобы увидеть церковь, "
        "которая считается одной из самых старых в этом регионе."
    ),
    "ja": (
        "この小さな町は大きな川のそばにあり、その歴史は中世までさかのぼります。"
        "昔は商人たちが船で塩や米を売りに来ました。"
        "商人たちのお金で石の橋が作られ、その橋は今も残っています。\n"
        "今でも古い市場の広場は町の中心です。"
        "夏になると、人々は川沿いの喫茶店に座って、通り過ぎる船をながめます。"
        "冬はとても静かで、夜まで開いているのはパン屋だけです。"
        "多くの観光客が、この地方で最も古い教会の一つを見るためにこの町を訪れます。"
    ),
    "zh": (
        "这座小城位于一条宽阔的河边，它的历史可以追溯到中世纪。"
        "当时商人们坐船来到这里，出售盐和粮食。"
        "人们用商人的钱修建了一座石桥，这座桥直到今天还在。\n"
        "现在，古老的集市广场仍然是城市的中心。"
        "夏天，人们坐在河边的咖啡馆里，看着来往的船只。"
        "冬天这里很安静，只有面包店一直开到晚上。"
        "很多游客来到这里，是为了参观当地最古老的教堂之一。"
    ),
}

# Keyword lists as shop pages stuff them: many words, no function word between them.
_KEYWORDS: dict[str, str] = {
    "de": (
        "Schuhe günstig kaufen Damenschuhe Herrenschuhe Sneaker Sale Stiefel Sandalen Pumps "
        "Laufschuhe Wanderschuhe Hausschuhe Kinderschuhe Markenschuhe Outlet Angebote Rabatt "
        "Gutschein Versandkostenfrei Lieferung Rückgabe Größen Farben Leder Textil Sommer Winter "
        "Herbst Frühling Neuheiten Bestseller Kollektion Trends Mode Damenmode Herrenmode "
        "Accessoires Taschen Gürtel Socken Pflege Einlagen Schnürsenkel Filialen Kundenservice "
        "Newsletter Anmeldung Konto Warenkorb Kasse Zahlung Rechnung Ratenkauf Bewertungen."
    ),
    "fr": (
        "Chaussures pas cher femme homme baskets soldes bottes sandales escarpins running "
        "randonnée chaussons enfant marques outlet promotions remise coupon livraison gratuite "
        "retour tailles couleurs cuir textile été hiver automne printemps nouveautés meilleures "
        "ventes collection tendances mode accessoires sacs ceintures chaussettes entretien "
        "semelles lacets magasins service client inscription compte panier paiement facture "
        "avis clients garantie échange offres spéciales catalogue marques premium."
    ),
    "es": (
        "Zapatos baratos mujer hombre zapatillas rebajas botas sandalias tacones running "
        "senderismo pantuflas niños marcas outlet ofertas descuento cupón envío gratis "
        "devolución tallas colores cuero textil verano invierno otoño primavera novedades "
        "superventas colección tendencias moda accesorios bolsos cinturones calcetines cuidado "
        "plantillas cordones tiendas atención cliente registro cuenta carrito pago factura "
        "opiniones garantía cambio promociones catálogo marcas premium."
    ),
}


def _first_paragraph(lang: str) -> str:
    return GOOD[lang].split("\n")[0]


def junk(lang: str) -> dict[str, str]:
    """The junk documents of one language by kind (see the module docstring for each kind)."""
    found = {
        "too_short": _first_paragraph(lang),
        "repeated_lines": "\n".join([_first_paragraph(lang)] * 4),
    }
    if lang in _KEYWORDS:
        found["no_stop_words"] = _KEYWORDS[lang]
    return found


# The rule each kind of junk should be dropped by.
JUNK_RULES: dict[str, str] = {
    "too_short": "gopher_short_doc",
    "repeated_lines": "gopher_dup_line_frac",
    "no_stop_words": "gopher_too_few_stop_words",
}
LANGUAGES: tuple[str, ...] = tuple(GOOD)


# Where the source lands under the sample's landing folder.
FILE = "multilingual/part-00000.jsonl.gz"
DOMAIN = "prose"


def documents() -> list[tuple[str, str, str, str | None]]:
    """(id, language, text, junk kind or None) of every document, in file order."""
    found: list[tuple[str, str, str, str | None]] = []
    for lang, text in GOOD.items():
        found.append((f"multilingual:{lang}:good", lang, text, None))
        for kind, junk_text in junk(lang).items():
            found.append((f"multilingual:{lang}:{kind}", lang, junk_text, kind))
    return found


def _gzip_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    """JSON lines, gzip-compressed with no name or time in the header (byte-stable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        for row in rows:
            gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))


def build_multilingual(landing: Path, ground_truth: Path) -> str:
    """Write the `multilingual` landing file and its ground-truth rows; return a summary.

    The other sources' ground-truth rows are kept as they are (this source's are replaced), so
    the rest of the sample stays byte for byte what it was.
    """
    docs = documents()
    _gzip_lines(landing / FILE, [{"id": doc_id, "text": text} for doc_id, _, text, _ in docs])
    with gzip.open(ground_truth, "rt", encoding="utf-8") as handle:
        kept = [row for line in handle if (row := json.loads(line))["file"] != FILE]
    rows = [
        {
            "file": FILE,
            "record": record,
            "id": doc_id,
            "source": "multilingual",
            "domain": DOMAIN,
            "lang": lang,
            "junk": kind,
            "exact_duplicate_of": None,
            "near_duplicate_of": None,
            "pii": [],
            "not_pii": [],
        }
        for record, (doc_id, lang, _, kind) in enumerate(docs)
    ]
    _gzip_lines(ground_truth, kept + rows)
    planted = sum(kind is not None for *_, kind in docs)
    return f"{FILE}: {len(docs)} documents in {len(GOOD)} languages, {planted} junk"
