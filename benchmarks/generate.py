"""A synthetic catalog at scale: CSV tables (courses, modules, lessons, materials) with their own
sources.yaml, realistic value variety (durations in several notations, language names) and a small
share of defects so validation does real work. Deterministic for a given size and seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

DURATIONS = np.array(["45", "1.5 hours", "90 mins", "PT2H", "2h 30m", "12 Weeks", "30"])
LESSON_DURATIONS = np.array(["5 mins", "10", "PT15M", "0:20", "25 min", "1 hour"])
LANGUAGES = np.array(["en", "English, German", "de-CH", "fr", "en_GB", "es;pt-BR"])
CONTENT = np.array(["video", "text", "quiz", "assignment", "document", "audio", "Video"])
EXTENSIONS = np.array(["pdf", "docx", "xlsx", "pptx", "zip", "mp3"])


def generate(out: Path, courses: int = 50_000, lessons: int = 1_000_000, materials: int = 500_000,
             modules_per_course: int = 4, defect_share: float = 0.001, seed: int = 7) -> Path:
    """Writes the tables and sources.yaml into `out`; returns the sources.yaml path."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    course_ids = np.char.add("C", np.arange(courses).astype(str))
    pd.DataFrame({
        "course_id": course_ids,
        "title": np.char.add("Synthetic course ", np.arange(courses).astype(str)),
        "description": "<p>A course about <b>things</b> &amp; more.</p>",
        "course_type": rng.choice(["course", "video", "webinar"], courses),
        "status": rng.choice(["published", "draft"], courses),
        "duration_minutes": rng.choice(DURATIONS, courses),
        "languages": rng.choice(LANGUAGES, courses),
        "tags": "data, skills",
        "course_url": np.char.add("https://learn.example.com/c/", course_ids),
        "is_free": rng.choice(["yes", "no"], courses),
    }).to_csv(out / "courses.csv", index=False)

    module_count = courses * modules_per_course
    module_course = np.repeat(course_ids, modules_per_course)
    module_ids = np.char.add("M", np.arange(module_count).astype(str))
    pd.DataFrame({
        "module_id": module_ids, "course_id": module_course,
        "title": np.char.add("Module ", np.arange(module_count).astype(str)),
        "position": np.tile(np.arange(modules_per_course), courses),
    }).to_csv(out / "modules.csv", index=False)

    lesson_module = rng.integers(0, module_count, lessons)
    lesson_ids = np.char.add("L", np.arange(lessons).astype(str))
    content = rng.choice(CONTENT, lessons)
    defects = rng.random(lessons) < defect_share
    content = np.where(defects, "hologram", content)  # unknown content type
    pd.DataFrame({
        "lesson_id": lesson_ids, "module_id": module_ids[lesson_module],
        "title": np.char.add("Lesson ", np.arange(lessons).astype(str)),
        "content_type": content,
        "video_url": np.char.add("https://video.example.com/", lesson_ids),
        "position": rng.integers(0, 30, lessons),
        "duration_minutes": rng.choice(LESSON_DURATIONS, lessons),
    }).to_csv(out / "lessons.csv", index=False)

    material_lesson = rng.integers(0, lessons, materials)
    material_ids = np.char.add("F", np.arange(materials).astype(str))
    urls = np.char.add(np.char.add("https://files.example.com/", material_ids), ".")
    pd.DataFrame({
        "material_id": material_ids, "lesson_id": lesson_ids[material_lesson],
        "title": "Handout", "url": np.char.add(urls, rng.choice(EXTENSIONS, materials)),
    }).to_csv(out / "materials.csv", index=False)

    sources = {"sources": [{
        "name": "synthetic", "format": "csv", "path": "courses.csv", "encoding": "utf-8", "delimiter": ",",
        "tables": {"courses": {}, "modules": {"path": "modules.csv"}, "lessons": {"path": "lessons.csv"},
                   "materials": {"path": "materials.csv"}},
        "defaults": {"courses": {"languages": ["en"]}},
    }]}
    path = out / "sources.yaml"
    path.write_text(yaml.safe_dump(sources), encoding="utf-8")
    return path
