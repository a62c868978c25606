"""Writes the sample catalogs in data/catalogs/ (run again after editing; output is deterministic).

Three catalogs, each as its kind of source really looks, each with a few realistic defects so the
demo shows rejects:
- northwind_academy.xlsx: a workbook with sheets courses, modules (with sub-modules), lessons and
  materials, human column headers. Defects: a lesson pointing at a missing module, an unknown
  content type, a duplicate lesson id, a material whose file kind is missing, a formula never calculated.
- partner_kurse.csv: a flat courses list from a German partner, semicolon-separated, cp1252, German
  headers, "1,5 Stunden", "Ja/Nein". Defects: a duplicate id, a missing title, an unreadable duration.
- cms_export.json: a Strapi-style nested export (data[].attributes..., numeric ids). Defects: a
  missing title, an unknown content type ("podcast"), a duplicate module id.

    .venv/bin/python data/make_samples.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl

OUT = Path(__file__).parent / "catalogs"

TOPICS = [
    ("NW-101", "Workplace Safety Essentials", "course", "published", "3.5 hours", "en, de", "safety; compliance",
     "Dana Whitfield", "Dana Whitfield", "Health and safety lead with 15 years in logistics.", "no"),
    ("NW-102", "Excel for Finance Teams", "course", "published", "6 hours", "en", "excel; finance",
     "Marco Ruiz", "Marco Ruiz", "Former FP&A manager, Microsoft MVP.", "no"),
    ("NW-103", "Leading Remote Teams", "learning_path", "published", "12 Weeks", "en-GB", "leadership",
     "Priya Natarajan; Tom Becker", "Priya Natarajan", "", "no"),
    ("NW-104", "GDPR in Practice", "course", "draft", "PT2H30M", "en, fr", "compliance; privacy",
     "Claire Dubois", "Claire Dubois", "Data protection officer and author.", "yes"),
    ("NW-105", "Customer Support Fundamentals", "video", "published", "95", "en", "support; communication",
     "Jamal Okafor", "", "", "yes"),
    ("NW-106", "Forklift Operator Refresher", "course", "published", "1:45", "de-CH", "safety; warehouse",
     "Urs Meier", "Urs Meier", "Certified forklift instructor.", "no"),
    ("NW-107", "Negotiation Skills Webinar", "webinar", "archived", "45 mins", "en", "sales",
     "Lena Fischer", "Lena Fischer", "Negotiation coach.", "no"),
]

LESSON_TYPES = ["video", "video", "text", "quiz", "assignment", "document"]


def workbook() -> None:
    wb = openpyxl.Workbook()
    courses = wb.active
    courses.title = "courses"
    courses.append(["Course ID", "Course Title", "Description", "Type", "Status", "Duration", "Languages",
                    "Tags", "Authors", "Instructor", "Instructor Bio", "Free?", "Image", "Course Page",
                    "Internal Code"])
    for i, (cid, title, ctype, status, duration, langs, tags, authors, instr, bio, free) in enumerate(TOPICS):
        slug = title.lower().replace(" ", "-")
        courses.append([
            cid, title,
            f"<p>{title}: practical, scenario-based training.</p><ul><li>Self-paced</li><li>Certificate</li></ul>",
            ctype, status, duration, langs, tags, authors, instr, bio, free,
            f"https://cdn.northwind.example/img/{slug}.jpg", f"https://learn.northwind.example/courses/{slug}",
            f"NWA-{1000 + i}",
        ])
    # Defect: a title written as a formula the script never calculated (reads as no value).
    courses["B8"] = '=CONCATENATE("Negotiation ", "Skills")'

    modules = wb.create_sheet("modules")
    modules.append(["Module ID", "Course ID", "Parent Module", "Module Title", "Status", "Order", "Thumbnail"])
    lessons = wb.create_sheet("lessons")
    lessons.append(["Lesson ID", "Module ID", "Lesson Title", "Content Type", "Summary", "Video", "Thumbnail",
                    "Order", "Status", "Length"])
    materials = wb.create_sheet("materials")
    materials.append(["Material ID", "Lesson ID", "Title", "URL", "Kind"])
    lesson_no = material_no = 0
    for c, (cid, title, *_rest) in enumerate(TOPICS):
        for m in range(1, 3):
            top = f"{cid}-M{m}"
            modules.append([top, cid, None, f"{title} – Part {m}", "published", m, None])
            module_ids = [top]
            if m == 2:  # sub-modules under the second module of each course
                sub = f"{top}.1"
                modules.append([sub, cid, top, f"{title} – Part {m} deep dive", "published", 1,
                                f"https://cdn.northwind.example/thumb/{sub}.png"])
                module_ids.append(sub)
            for module_id in module_ids:
                for n in range(1, 4):
                    lesson_no += 1
                    kind = LESSON_TYPES[(lesson_no + c) % len(LESSON_TYPES)]
                    lid = f"L{lesson_no:03d}"
                    video = f"https://video.northwind.example/{lid}.mp4" if kind == "video" else None
                    lessons.append([lid, module_id, f"{title}: lesson {n} of {module_id}", kind,
                                    f"In this lesson you practise step {n}.", video, None, n, "published",
                                    f"{5 + (lesson_no % 4) * 5} mins"])
                    if kind in ("document", "assignment", "text"):
                        material_no += 1
                        ext = ["pdf", "docx", "xlsx", "pptx"][material_no % 4]
                        materials.append([f"MAT-{material_no:03d}", lid, f"Handout {material_no}",
                                          f"https://files.northwind.example/{lid}/handout.{ext}", None])
    # Defects, as they happen in real workbooks:
    lessons.append(["L900", "NW-105-M9", "Escalation paths", "video", "", "https://video.northwind.example/L900.mp4",
                    None, 4, "published", "10 mins"])  # module NW-105-M9 does not exist
    lessons.append(["L901", "NW-102-M1", "Pivot tables live Q&A", "livestream", "", None, None, 4, "published",
                    "30 mins"])  # unknown content type
    lessons.append(["L010", "NW-106-M1", "Pre-shift checks (copy)", "video", "",
                    "https://video.northwind.example/L010b.mp4", None, 5, "published", "5 mins"])  # duplicate id
    materials.append(["MAT-900", "L002", "Checklist", "https://files.northwind.example/L002/checklist", None])
    wb.save(OUT / "northwind_academy.xlsx")


PARTNER_ROWS = [
    ["Kurs-ID", "Titel", "Beschreibung", "Kursart", "Status", "Dauer", "Sprachen", "Schlagwörter", "Autor",
     "Kostenlos", "Bild-URL", "Kurs-URL", "Veröffentlicht am", ""],
    ["P-2001", "Brandschutz im Büro", "Grundlagen des vorbeugenden Brandschutzes für Büroräume.\nMit Übungen.",
     "Kurs", "veröffentlicht", "1,5 Stunden", "Deutsch", "Sicherheit, Brandschutz", "Jürgen Schäfer", "Ja",
     "https://cdn.partner.example/img/brandschutz.jpg", "https://akademie.partner.example/kurse/brandschutz",
     "03.02.2025", ""],
    ["P-2002", "Erste Hilfe – Auffrischung", "Herz-Lungen-Wiederbelebung, stabile Seitenlage, Notruf.",
     "Kurs", "veröffentlicht", "90", "Deutsch; Englisch", "Gesundheit", "Dr. Anna Müller", "Nein",
     "https://cdn.partner.example/img/erste-hilfe.jpg", "https://akademie.partner.example/kurse/erste-hilfe",
     "15.01.2025", ""],
    ["P-2003", "Zeitmanagement für Führungskräfte", "Prioritäten setzen, „Eisenhower“-Matrix, Delegation.",
     "Webinar", "Entwurf", "45 Minuten", "Deutsch", "Führung", "Sabine Koch", "Nein",
     "https://cdn.partner.example/img/zeit.jpg", "https://akademie.partner.example/kurse/zeit",
     "20.03.2025", ""],
    ["P-2004", "Sécurité électrique (FR)", "Prévention des risques électriques — habilitation B0.",
     "Kurs", "veröffentlicht", "2 Stunden", "Französisch", "Sicherheit", "Élodie Lefèvre", "Nein",
     "https://cdn.partner.example/img/elec.jpg", "https://akademie.partner.example/kurse/elec",
     "01.04.2025", ""],
    ["P-2005", "", "Titel fehlt noch – bitte nachtragen.", "Kurs", "Entwurf", "1 Stunde", "Deutsch", "", "",
     "Nein", "", "https://akademie.partner.example/kurse/ohne-titel", "", ""],  # missing title
    ["P-2002", "Erste Hilfe (alt)", "Veraltete Fassung.", "Kurs", "archiviert", "60", "Deutsch", "", "",
     "Nein", "", "https://akademie.partner.example/kurse/erste-hilfe-alt", "", ""],  # duplicate id
    ["P-2006", "Datenschutz kompakt", "DSGVO-Grundlagen für alle Mitarbeitenden.", "Kurs", "veröffentlicht",
     "ca. zwei Stunden", "Deutsch", "Datenschutz", "Jürgen Schäfer", "Nein", "", "", "10.05.2025", ""],
    ["P-2007", "Excel-Grundlagen", "Formeln, Tabellen und Diagramme.", "Kurs", "veröffentlicht", "4 Std",
     "Deutsch", "Office, Excel", "Sabine Koch", "Nein", "https://cdn.partner.example/img/excel.jpg",
     "https://akademie.partner.example/kurse/excel", "12.06.2025", ""],
]


def partner_csv() -> None:
    with (OUT / "partner_kurse.csv").open("w", encoding="cp1252", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows(PARTNER_ROWS)


def _strapi(id_: int, **attributes) -> dict:
    return {"id": id_, "attributes": attributes}


def cms_export() -> None:
    lesson_id = 500
    courses = []
    specs = [
        (41, "intro-to-data-literacy", "Intro to Data Literacy", "course", ["en"], ["data", "analytics"], 180),
        (42, "sql-for-analysts", "SQL for Analysts", "course", ["en", "es"], ["data", "sql"], 360),
        (43, "storytelling-with-dashboards", "Storytelling with Dashboards", "course", ["en-US"], ["data"], 240),
        (44, "ai-at-work", "", "article", ["en"], ["ai"], 30),  # defect: missing title
    ]
    module_id = 900
    for cid, slug, title, ctype, langs, tags, minutes in specs:
        modules = []
        for m in range(1, 3):
            module_id += 1
            lessons = []
            for n in range(1, 4):
                lesson_id += 1
                kind = ["video", "text", "quiz"][n - 1]
                if cid == 43 and m == 2 and n == 3:
                    kind = "podcast"  # defect: a content type we do not know
                materials = []
                if kind == "text":
                    materials.append(_strapi(lesson_id * 10, title="Slides",
                                             file={"data": {"attributes": {
                                                 "url": f"https://cms.example/uploads/slides_{lesson_id}.pdf",
                                                 "ext": ".pdf"}}}))
                lessons.append(_strapi(lesson_id, title=f"{title or 'Untitled'} – lesson {n}", kind=kind,
                                       order=n, duration=f"PT{5 * n}M", publishedAt="2025-03-01T09:00:00Z",
                                       video=({"url": f"https://cms.example/video/{lesson_id}.mp4"}
                                              if kind == "video" else None),
                                       materials={"data": materials}))
            modules.append(_strapi(module_id, title=f"Chapter {m}", order=m, lessons={"data": lessons}))
        if cid == 42:  # defect: the CMS duplicated a chapter id when it was copied
            dup = json.loads(json.dumps(modules[-1]))
            dup["attributes"]["title"] = "Chapter 2 (copy)"
            dup["attributes"]["lessons"] = {"data": []}
            modules.append(dup)
        courses.append(_strapi(
            cid, slug=slug, title=title,
            summary=f"<p>{title or 'Untitled'} for busy professionals. <script>alert('x')</script></p>",
            format=ctype, publishedAt="2025-02-01T10:00:00Z", state="published", estimatedMinutes=minutes,
            locales=langs, topics={"data": [{"id": 1, "attributes": {"name": t}} for t in tags]},
            cover={"data": {"attributes": {"url": f"https://cms.example/uploads/{slug}.jpg"}}},
            url=f"https://learn.example.com/{slug}", author={"data": {"attributes": {"name": "Grace Lin",
                                                                                        "bio": "Analytics lead."}}},
            modules={"data": modules}))
    doc = {"data": courses, "meta": {"pagination": {"page": 1, "pageSize": 25, "pageCount": 1,
                                                    "total": len(courses)}}}
    (OUT / "cms_export.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    workbook()
    partner_csv()
    cms_export()
    print(f"wrote {', '.join(sorted(p.name for p in OUT.iterdir()))}")
