"""Display names for the API's snake_case keys (subjects, for a start).

The API and the database keep keys such as ``computer_science`` or ``sat_prep``; a
manager reads "Computer science" and "SAT prep". One function, so every page and every
generated sentence names a subject the same way.
"""

from __future__ import annotations

# Words that are acronyms or proper nouns in a subject key.
_WORDS = {
    "sat": "SAT",
    "act": "ACT",
    "ap": "AP",
    "gre": "GRE",
    "gmat": "GMAT",
    "ielts": "IELTS",
    "toefl": "TOEFL",
    "english": "English",
    "spanish": "Spanish",
    "french": "French",
    "german": "German",
    "chinese": "Chinese",
    "mandarin": "Mandarin",
    "japanese": "Japanese",
    "latin": "Latin",
    "us": "US",
}


def subject_label(key: str | None, *, capitalize: bool = True) -> str:
    """``"computer_science"`` -> ``"Computer science"``, ``"sat_prep"`` -> ``"SAT prep"``,
    ``"english_writing"`` -> ``"English writing"``; an empty key reads "–". Inside a
    sentence (``capitalize=False``) only acronyms and proper nouns keep capitals:
    "Raise the computer science budget", "Cut French supply spend"."""
    if not key:
        return "–"
    words = [w for w in str(key).replace("-", "_").split("_") if w]
    if not words:
        return "–"
    out = [_WORDS.get(w.lower(), w.lower()) for w in words]
    if capitalize and out[0] == words[0].lower():
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)
