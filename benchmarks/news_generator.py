"""A small deterministic corpus of German news-like articles for the build-cost benchmark.

    write_corpus(folder, n_docs=100, seed=6)  → folder/news_0000.txt …

Each article is a title and two or three paragraphs of sentences filled from templates and
entity lists (towns, companies, people, projects, figures, dates), so sentences differ from
article to article as in real news. Nothing is copied from the seeds. Same arguments, same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

TOWNS = ["Duisburg", "Bochum", "Kassel", "Würzburg", "Rostock", "Erfurt", "Ulm", "Trier", "Potsdam", "Kiel",
         "Gießen", "Siegen", "Paderborn", "Regensburg", "Cottbus", "Lübeck", "Koblenz", "Jena", "Passau", "Bamberg"]
COMPANIES = ["Nordnetz AG", "Rheinfunk GmbH", "DataPort Systems", "Elbtal Energie", "Hansa Mobil", "Südwerk Digital",
             "Quadra Telekom", "Brückner & Söhne", "Lumen Analytics", "Fernwerk Logistik", "Vireo Software"]
PEOPLE = ["Anna Berger", "Jonas Krüger", "Miriam Yilmaz", "Thomas Albrecht", "Lea Hoffmann", "Paul Nowak",
          "Sabine Roth", "Emre Demir", "Claudia Wenzel", "Felix Hartmann", "Nora Lindqvist", "Georg Baumann"]
ROLES = ["Oberbürgermeisterin", "Oberbürgermeister", "Stadtkämmerer", "Digitaldezernentin", "Geschäftsführer",
         "Vorstandsvorsitzende", "Projektleiter", "Landrätin", "Wirtschaftsförderer"]
PROJECTS = ["ein Glasfasernetz für alle Schulen", "ein digitales Bürgeramt", "eine Leitstelle für den Nahverkehr",
            "ein Sensornetz zur Luftmessung", "kostenloses WLAN in der Innenstadt", "eine App für Parkplätze",
            "ein Rechenzentrum mit Abwärmenutzung", "ein Förderprogramm für Start-ups", "eine Plattform für Ehrenamt",
            "ein Pilotprojekt für autonome Busse", "intelligente Straßenbeleuchtung", "ein Portal für offene Daten"]
TOPICS = ["Datenschutz", "Kosten", "Zeitplan", "Ausschreibung", "Bürgerbeteiligung", "Fördermittel", "Personal"]
MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
          "November", "Dezember"]

SENTENCES = [
    "{town} und {company} haben am {date} eine Absichtserklärung über {project} unterzeichnet.",
    "Die Kosten für {project} schätzt die Stadt {town} auf rund {money} Millionen Euro.",
    "{role} {person} sagte, {project} sei für {town} ein wichtiger Schritt.",
    "Nach Angaben von {company} sollen bis {year} etwa {number} Haushalte angeschlossen werden.",
    "Im Stadtrat von {town} gab es Kritik am {topic} des Vorhabens.",
    "Die Opposition in {town} verlangt bis zum {date} mehr Transparenz beim Thema {topic}.",
    "{company} beschäftigt nach eigenen Angaben {number} Mitarbeiter in {count} Ländern.",
    "Ein erster Abschnitt soll im {month} {year} in Betrieb gehen.",
    "Das Land beteiligt sich mit {money} Millionen Euro an {project}.",
    "Vertreter von {company} besuchten am {date} das Rathaus in {town}.",
    "{person} kündigte an, die Ergebnisse im {month} öffentlich vorzustellen.",
    "Bürgerinnen und Bürger können sich bis zum {date} online zu den Plänen für {project} äußern.",
    "Die Verwaltung in {town} prüft derzeit, ob {project} bis {year} auch in den Stadtteilen umgesetzt werden kann.",
    "Laut einer Umfrage unterstützen {percent} Prozent der Befragten in {town} das Vorhaben.",
    "Gegen die Vergabe an {company} hat ein Mitbewerber Beschwerde eingelegt.",
    "Ähnliche Projekte laufen seit {year} bereits in {town2} und {town3}.",
]
TITLES = [
    "{town} setzt auf {company}",
    "{project_cap}: {town} startet Pilotphase",
    "Streit um {topic} in {town}",
    "{company} und {town} unterzeichnen Vereinbarung",
    "{town}: {role} {person} zieht Bilanz",
]


def _fill(template: str, rng: random.Random) -> str:
    project = rng.choice(PROJECTS)
    towns = rng.sample(TOWNS, 3)
    values = {
        "town": towns[0], "town2": towns[1], "town3": towns[2], "company": rng.choice(COMPANIES),
        "person": rng.choice(PEOPLE), "role": rng.choice(ROLES), "project": project,
        "project_cap": project[0].upper() + project[1:], "topic": rng.choice(TOPICS), "month": rng.choice(MONTHS),
        "year": rng.randint(2019, 2031), "number": f"{rng.randint(2, 480) * 250:,}".replace(",", "."),
        "count": rng.randint(3, 170), "money": f"{rng.randint(5, 950) / 10:.1f}".replace(".", ","),
        "percent": rng.randint(12, 88),
        "date": f"{rng.randint(1, 28)}. {rng.choice(MONTHS)} {rng.randint(2019, 2031)}",
    }
    return template.format(**values)


def article(i: int, seed: int = 6) -> str:
    """Article number ``i`` → its text: a title line, then paragraphs separated by blank lines."""
    rng = random.Random(seed * 1_000_003 + i)
    title = _fill(rng.choice(TITLES), rng)
    paragraphs = [" ".join(_fill(rng.choice(SENTENCES), rng) for _ in range(rng.randint(3, 5)))
                  for _ in range(rng.randint(2, 3))]
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def write_corpus(folder: str | Path, n_docs: int = 100, seed: int = 6) -> Path:
    """Write ``n_docs`` articles into ``folder`` (created) → the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        (out / f"news_{i:04d}.txt").write_text(article(i, seed), "utf-8")
    return out
