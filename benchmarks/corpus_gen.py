"""A deterministic generator of German news-like articles for the scale benchmarks.

Articles are put together from sentence templates and entity lists (cities, people, roles,
companies, topics, dates, amounts); nothing is copied from the seeds. Article ``i`` depends
only on ``(seed, i)``, so any range can be produced again, in any order, with the same bytes.

Two outputs:

- ``write_files(folder, n_docs)``: one ``.txt`` per article (headline, dateline, paragraphs),
  for building with the real pipeline (cleaning, pysbd sentences, chunking, embedding);
- ``stream_documents(n_chunks)``: ``(Document, chunks)`` pairs whose sentences are known by
  construction, chunked with the pipeline's own window rule (``max_sentences``, ``max_chars``,
  ``overlap_sentences``) without pysbd, which would take hours at a million chunks.

    .venv/bin/python benchmarks/corpus_gen.py OUT_DIR --docs 2500
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline.text.chunking import _context, _chunk_ranges
from pipeline.settings import ChunkingSettings
from pipeline.types import Chunk, Document, Span, content_id

SEED = 20240611
CHUNKS_PER_ARTICLE = 4.27  # measured: 20,000 streamed chunks came from 4,689 articles
FILE_CHUNKS_PER_ARTICLE = 4.0  # measured: the pipeline cut 468 files into 1,870 chunks

CITIES = (
    "Aachen Augsburg Bamberg Bielefeld Bochum Bonn Bottrop Braunschweig Bremen Bremerhaven Chemnitz Cottbus "
    "Darmstadt Dessau Dortmund Dresden Duisburg Düsseldorf Erfurt Erlangen Essen Flensburg Frankfurt Freiburg "
    "Fulda Gelsenkirchen Gera Gießen Göttingen Greifswald Hagen Halle Hamburg Hamm Hannover Heidelberg Heilbronn "
    "Hildesheim Ingolstadt Jena Kaiserslautern Karlsruhe Kassel Kiel Koblenz Köln Konstanz Krefeld Leipzig "
    "Leverkusen Lübeck Ludwigshafen Magdeburg Mainz Mannheim Marburg Minden Mönchengladbach Mülheim München "
    "Münster Neuss Nürnberg Oberhausen Offenbach Oldenburg Osnabrück Paderborn Passau Potsdam Regensburg "
    "Remscheid Rostock Saarbrücken Salzgitter Schwerin Siegen Solingen Stuttgart Trier Tübingen Ulm Wiesbaden "
    "Wolfsburg Worms Wuppertal Würzburg Zwickau"
).split()
FIRST = (
    "Anna Andreas Birgit Bernd Claudia Christian Daniela Dirk Elke Erik Franziska Frank Gabriele Georg Heike "
    "Holger Ines Jan Julia Jürgen Katrin Klaus Lena Lars Maria Markus Nicole Norbert Petra Peter Sabine Stefan "
    "Tanja Thomas Ursula Uwe Vanessa Volker Yvonne Wolfgang Sören Aylin Mehmet Özlem Piotr Agnieszka Luca Sofia"
).split()
LAST = (
    "Albrecht Bauer Becker Berger Brandt Busch Dietrich Engel Fischer Frank Franke Friedrich Fuchs Graf Günther "
    "Haas Hahn Hartmann Heinrich Herrmann Hoffmann Hofmann Horn Jansen Jung Kaiser Keller Klein Koch König Krause "
    "Krüger Kuhn Lange Lehmann Lorenz Ludwig Maier Martin Mayer Meier Meyer Möller Müller Neumann Otto Peters "
    "Pohl Richter Roth Sauer Schäfer Schmid Schmidt Schmitt Schneider Scholz Schröder Schubert Schulz Schwarz "
    "Seidel Simon Sommer Stein Thomas Vogel Vogt Wagner Walter Weber Werner Wolf Yilmaz Zimmermann Kowalski"
).split()
ROLES = (
    "Oberbürgermeisterin", "Oberbürgermeister", "Stadtbaurätin", "Kämmerer", "Sprecherin der Stadtverwaltung",
    "Vorstandsvorsitzender", "Geschäftsführerin", "Betriebsratsvorsitzender", "Landrätin", "Fraktionschef",
    "Verbandspräsidentin", "Projektleiter", "Dezernentin für Umwelt", "Polizeipräsident", "Rektorin der Hochschule",
    "Klinikdirektor", "Vorsitzende des Mietervereins", "Feuerwehrchef", "Intendantin", "Trainer",
)
COMPANY_A = "Nord Süd Rhein Elb Main Alpen Ruhr Hansa Spree Weser Isar Neckar Saale Mosel Havel Donau".split()
COMPANY_B = "werk bau tech energie logistik data med chem stahl mobil netz solar wind glas papier holz".split()
COMPANY_C = ("AG", "GmbH", "SE", "KG", "Holding", "Gruppe")
MONTHS = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()


@dataclass(frozen=True)
class Topic:
    name: str
    things: tuple[str, ...]  # nominative singular with article: "die neue Straßenbahnlinie"
    places: tuple[str, ...]
    measures: tuple[str, ...]  # what a number counts: "Fahrgäste"
    verbs: tuple[str, ...]  # past participles: "beschlossen"


TOPICS = (
    Topic("Verkehr", ("die neue Straßenbahnlinie", "der Ausbau des Radwegenetzes", "die Sanierung der Rheinbrücke",
                      "das Parkleitsystem", "der Umbau des Hauptbahnhofs", "die Verlängerung der U-Bahn"),
          ("am Hauptbahnhof", "in der Innenstadt", "an der Stadtgrenze", "im Hafenviertel"),
          ("Fahrgäste", "Pendler", "Kilometer Radweg", "Parkplätze", "Busse"),
          ("beschlossen", "vorgestellt", "verschoben", "genehmigt", "eröffnet")),
    Topic("Energie", ("das Fernwärmenetz", "der Solarpark", "die Wärmepumpenförderung", "das Gaskraftwerk",
                      "der Windpark", "der Stromspeicher"),
          ("auf dem ehemaligen Zechengelände", "am Stadtrand", "im Industriegebiet", "auf den Dächern der Schulen"),
          ("Haushalte", "Megawatt", "Tonnen Kohlendioxid", "Solarmodule", "Anschlüsse"),
          ("in Betrieb genommen", "ausgeschrieben", "erweitert", "gefördert", "geplant")),
    Topic("Bildung", ("der Neubau der Gesamtschule", "das Digitalprogramm für Grundschulen", "die Ganztagsbetreuung",
                      "die Sanierung der Turnhalle", "das Stipendienprogramm", "die neue Berufsschule"),
          ("im Norden der Stadt", "auf dem Campus", "im Schulzentrum", "in drei Stadtteilen"),
          ("Schülerinnen und Schüler", "Lehrkräfte", "Tablets", "Studierende", "Klassenräume"),
          ("eingeweiht", "bewilligt", "gestartet", "ausgeweitet", "abgeschlossen")),
    Topic("Gesundheit", ("die Notaufnahme", "das Impfzentrum", "die Kinderklinik", "das Pflegeheim",
                         "der Rettungsdienst", "die Hausarztpraxis im Quartier"),
          ("am Klinikum", "im Ärztehaus", "in der Altstadt", "im Gesundheitszentrum"),
          ("Patientinnen und Patienten", "Pflegekräfte", "Betten", "Einsätze", "Impfungen"),
          ("modernisiert", "geschlossen", "neu organisiert", "ausgebaut", "übernommen")),
    Topic("Wohnen", ("das Neubaugebiet", "der Mietspiegel", "die Sozialwohnungen", "das Quartier am Kanal",
                     "die Sanierung der Hochhaussiedlung", "das Wohnprojekt für Studierende"),
          ("am Stadtpark", "an der Bahntrasse", "auf dem früheren Kasernengelände", "im Westen der Stadt"),
          ("Wohnungen", "Euro pro Quadratmeter", "Mieterinnen und Mieter", "Bauplätze", "Eigentümer"),
          ("vorgelegt", "verabschiedet", "kritisiert", "fertiggestellt", "angekündigt")),
    Topic("Wirtschaft", ("die Ansiedlung des Logistikzentrums", "der Stellenabbau", "die Werkserweiterung",
                         "das Gründerzentrum", "die Übernahme des Zulieferers", "der Umsatz im dritten Quartal"),
          ("im Gewerbegebiet", "am Hafen", "im Technologiepark", "am Flughafen"),
          ("Arbeitsplätze", "Millionen Euro", "Beschäftigte", "Auszubildende", "Aufträge"),
          ("bekannt gegeben", "bestätigt", "gemeldet", "abgesagt", "verhandelt")),
    Topic("Klima", ("der Hitzeaktionsplan", "das Hochwasserschutzkonzept", "die Baumpflanzaktion",
                    "das Klimaschutzprogramm", "die Entsiegelung der Schulhöfe", "das Regenrückhaltebecken"),
          ("entlang des Flusses", "in den Parks", "auf dem Marktplatz", "in den Neubaugebieten"),
          ("Bäume", "Hektar", "Prozent", "Grad", "Kubikmeter Wasser"),
          ("verabschiedet", "umgesetzt", "überarbeitet", "vorgestellt", "finanziert")),
    Topic("Kultur", ("das Stadtfest", "die Sanierung des Opernhauses", "die Ausstellung im Kunstmuseum",
                     "das Jazzfestival", "die neue Stadtbibliothek", "das Theaterprogramm"),
          ("im Stadtgarten", "in der Alten Feuerwache", "am Domplatz", "im Kulturzentrum"),
          ("Besucherinnen und Besucher", "Künstler", "Veranstaltungen", "Eintrittskarten", "Bücher"),
          ("eröffnet", "abgesagt", "verlängert", "gefeiert", "ausgezeichnet")),
    Topic("Sport", ("der Umbau des Stadions", "das Hallenbad", "der Stadtmarathon", "die Sportförderung",
                    "das neue Trainingszentrum", "der Aufstieg in die Regionalliga"),
          ("im Sportpark", "am Seeufer", "in der Arena", "auf dem Vereinsgelände"),
          ("Zuschauer", "Mitglieder", "Läuferinnen und Läufer", "Punkte", "Sitzplätze"),
          ("gefeiert", "geplant", "saniert", "bestätigt", "verschoben")),
    Topic("Digitales", ("der Glasfaserausbau", "das Bürgerportal", "die digitale Verwaltung",
                        "das Rechenzentrum", "das kostenlose WLAN", "die Smart-City-Plattform"),
          ("in allen Stadtteilen", "im Rathaus", "an den Schulen", "in den Gewerbegebieten"),
          ("Anschlüsse", "Anträge", "Nutzerinnen und Nutzer", "Server", "Hotspots"),
          ("freigeschaltet", "gestartet", "vergeben", "ausgebaut", "getestet")),
)

TEMPLATES = (
    "{Thing} in {city} wird nach Angaben der Stadt bis {year} {verb}.",
    "{person}, {role}, sagte am {date}, {thing} sei für {city} ein wichtiger Schritt.",
    "Nach Angaben von {company} sollen rund {n} {measure} davon profitieren.",
    "Die Kosten für {thing} {place} liegen bei etwa {money} Euro.",
    "Im Stadtrat von {city} stimmten {k} Mitglieder für den Vorschlag, {m} dagegen.",
    "Bereits im {month} {year0} hatte {person} angekündigt, {thing} prüfen zu lassen.",
    "„Wir haben {thing} lange vorbereitet“, sagte {person} bei einer Pressekonferenz {place}.",
    "Kritik kam von {person2}, {role2}, die vor steigenden Kosten für {city} warnte.",
    "{company} hat den Auftrag für {thing} nach einer europaweiten Ausschreibung erhalten.",
    "Die Bauarbeiten {place} sollen im {month} beginnen und rund {k} Monate dauern.",
    "Laut einer Umfrage unterstützen {pct} Prozent der Befragten in {city} das Vorhaben.",
    "Das Land beteiligt sich mit {money} Euro an {thing_dat}.",
    "Seit {year0} ist die Zahl der {measure} in {city} um {pct} Prozent gestiegen.",
    "Ein Sprecher von {company} bestätigte am {date}, dass der Zeitplan eingehalten werde.",
    "Die Opposition im Rat fordert, {thing} erneut zu prüfen und die Bürger stärker zu beteiligen.",
    "Bis Ende {year} sollen insgesamt {n} {measure} hinzukommen.",
    "{person} verwies darauf, dass {city} bei {thing_dat} mit {city2} zusammenarbeite.",
    "Am {date} informiert die Stadt {place} über den Stand der Planungen.",
)


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _company(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_A)}{rng.choice(COMPANY_B)} {rng.choice(COMPANY_C)}"


def _dative(thing: str) -> str:
    """'die Sanierung' → 'der Sanierung', 'der Ausbau'/'das Netz' → 'dem …' (enough for the templates)."""
    article, _, rest = thing.partition(" ")
    return {"die": "der", "der": "dem", "das": "dem"}.get(article, article) + " " + rest


@dataclass(frozen=True)
class Article:
    """One generated article: headline, dateline and paragraphs of sentences."""

    index: int
    title: str
    date: str
    city: str
    paragraphs: tuple[tuple[str, ...], ...]


def article(i: int, seed: int = SEED) -> Article:
    """An article number → the article; depends only on ``(seed, i)``."""
    rng = random.Random(f"{seed}:{i}")
    topic = rng.choice(TOPICS)
    city, city2 = rng.sample(CITIES, 2)
    people = [(_person(rng), rng.choice(ROLES)) for _ in range(3)]
    company = _company(rng)
    year = rng.randint(2015, 2025)
    day, month = rng.randint(1, 28), rng.randint(1, 12)
    date = f"{year}-{month:02d}-{day:02d}"
    thing = rng.choice(topic.things)
    n_sentences = rng.randint(6, 16)
    sentences = []
    for _ in range(n_sentences):
        p, p2 = rng.sample(people, 2)
        t = rng.choice(topic.things) if rng.random() < 0.3 else thing
        values = {
            "thing": t, "Thing": t[0].upper() + t[1:], "thing_dat": _dative(t), "city": city, "city2": city2,
            "person": p[0], "role": p[1], "person2": p2[0], "role2": p2[1], "company": company,
            "place": rng.choice(topic.places), "measure": rng.choice(topic.measures), "verb": rng.choice(topic.verbs),
            "n": f"{rng.randint(2, 400) * 10:,}".replace(",", "."), "k": rng.randint(2, 40), "m": rng.randint(1, 30),
            "pct": rng.randint(3, 89), "money": f"{rng.randint(1, 950)},{rng.randint(0, 9)} Millionen",
            "year": year + rng.randint(0, 4), "year0": year - rng.randint(1, 6), "month": rng.choice(MONTHS),
            "date": f"{rng.randint(1, 28)}. {rng.choice(MONTHS)} {year}",
        }
        sentences.append(rng.choice(TEMPLATES).format(**values))
    cut = sorted(rng.sample(range(1, n_sentences), k=min(2, n_sentences - 1)))
    paragraphs = tuple(tuple(sentences[a:b]) for a, b in zip([0, *cut], [*cut, n_sentences]))
    title = f"{city}: {thing[0].upper() + thing[1:]} {rng.choice(topic.verbs)}"
    return Article(i, title, date, city, paragraphs)


def article_text(a: Article) -> str:
    """An article → the file text: headline, dateline, blank-line separated paragraphs."""
    body = "\n\n".join(" ".join(p) for p in a.paragraphs)
    return f"{a.title}\n\n{a.city} ({a.date}) – {body}\n"


def write_files(folder: str | Path, n_docs: int, seed: int = SEED) -> list[Path]:
    """Articles 0..n_docs-1 → ``folder/article_NNNNNNN.txt`` files (same bytes on every run)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_docs):
        path = folder / f"article_{i:07d}.txt"
        path.write_text(article_text(article(i, seed)), "utf-8")
        paths.append(path)
    return paths


def document_and_chunks(a: Article, settings: ChunkingSettings | None = None) -> tuple[Document, list[Chunk]]:
    """An article → its Document and chunks, sentence spans known by construction (no pysbd).

    Chunks follow the pipeline's window rule per paragraph, as ``chunk_document`` does per region.
    """
    settings = settings or ChunkingSettings()
    text = article_text(a)
    source = f"synthetic/article_{a.index:07d}.txt"
    doc_id = content_id(source, a.index)
    kept: list[Span] = [Span(0, len(a.title))]
    regions: list[list[Span]] = []
    pos = len(a.title) + 2
    for n, para in enumerate(a.paragraphs):
        start = pos
        if n == 0:
            pos += len(f"{a.city} ({a.date}) – ")
        region = []
        for s in para:
            region.append(Span(pos, pos + len(s)))
            pos += len(s) + 1
        kept.append(Span(start, pos - 1))
        regions.append(region)
        pos += 1  # the blank line: "\n\n" minus the space counted after the last sentence
    doc = Document(id=doc_id, source=source, text=text, title=a.title, date=a.date, lang="de", kept=tuple(kept),
                   meta={"encoding": "utf-8", "format": "txt", "sha256": content_id("sha", a.index, length=64)})
    chunks: list[Chunk] = []
    flat: list[Span] = []
    for region in regions:
        offset = len(flat)
        flat.extend(region)
        for i, j in _chunk_ranges(region, settings):
            first, last = region[i], region[j - 1]
            before = flat[offset + i - 1] if offset + i > 0 else None
            body = text[first.start : last.end]
            chunks.append(Chunk(id=content_id(doc_id, first.start, last.end), doc_id=doc_id, start=first.start,
                                end=last.end, text=body, context=_context(doc, before, body),
                                sentences=tuple(region[i:j])))
    return doc, chunks


def stream_documents(n_chunks: int, seed: int = SEED,
                     settings: ChunkingSettings | None = None) -> Iterator[tuple[Document, list[Chunk]]]:
    """Articles in order until exactly ``n_chunks`` chunks (the last article is cut short if needed)."""
    made, i = 0, 0
    while made < n_chunks:
        doc, chunks = document_and_chunks(article(i, seed), settings)
        chunks = chunks[: n_chunks - made]
        made += len(chunks)
        i += 1
        yield doc, chunks


QUESTIONS = (
    "Wann soll {thing} in {city} fertig sein?",
    "Was sagte {person} über {thing}?",
    "Wie viele {measure} profitieren von {thing_dat} in {city}?",
    "Wie viel kostet {thing} {place}?",
    "Welche Firma baut {thing} in {city}?",
    "{thing} {city}",
    "Kritik an {thing_dat} in {city}",
    "Wer ist {role} in {city}?",
)


def questions(n: int, seed: int = SEED + 1) -> list[str]:
    """n search questions about the kind of things the articles report (not copied from any article)."""
    rng = random.Random(f"questions:{seed}")
    out = []
    for _ in range(n):
        topic = rng.choice(TOPICS)
        t = rng.choice(topic.things)
        out.append(rng.choice(QUESTIONS).format(
            thing=t, thing_dat=_dative(t), city=rng.choice(CITIES), person=_person(rng), role=rng.choice(ROLES),
            measure=rng.choice(topic.measures), place=rng.choice(topic.places)))
    return [q[0].upper() + q[1:] for q in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--docs", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    print(f"{len(write_files(args.out, args.docs, args.seed))} files in {args.out}")


if __name__ == "__main__":
    main()
