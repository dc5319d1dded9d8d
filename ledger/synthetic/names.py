"""Vocabularies for readable synthetic names: companies (per language), collectors, texts."""

from __future__ import annotations

import numpy as np

ENGLISH_FIRST = (
    "North", "Blue", "Silver", "Granite", "Summit", "Harbor", "Cedar", "Atlas", "Pioneer",
    "Crescent", "Evergreen", "Keystone", "Riverside", "Beacon", "Orion", "Maple", "Falcon",
    "Sterling", "Horizon", "Oakwood", "Redwood", "Bright", "Iron", "Coastal",
)  # fmt: skip
ENGLISH_SECOND = (
    "Systems", "Logistics", "Foods", "Builders", "Health", "Supply", "Labs", "Partners",
    "Industries", "Retail", "Analytics", "Components", "Works", "Trading", "Devices",
    "Solutions",
)  # fmt: skip
HEBREW_FIRST = (
    "אורן", "גפן", "כרמל", "ארבל", "תבור", "שקד", "רימון", "אלון", "ברק", "נחשון",
    "מעיין", "הדר", "גלבוע", "שחר", "ים", "אופק",
)  # fmt: skip
HEBREW_SECOND = (
    "מערכות", "תעשיות", "לוגיסטיקה", "בנייה", "סחר", "טכנולוגיות", "מזון", "הנדסה",
    "שירותים", "ייבוא",
)  # fmt: skip
GERMAN_FIRST = ("Nord", "Berg", "Stahl", "Rhein", "Alpen", "Licht", "Hansa", "Falken", "Eichen")
GERMAN_SECOND = ("Technik", "Logistik", "Bau", "Handel", "Werke", "Systeme", "Medizin")
FRENCH_FIRST = ("Lumière", "Azur", "Horizon", "Étoile", "Rivage", "Chêne", "Atlantique")
FRENCH_SECOND = ("Distribution", "Industries", "Services", "Bâtiment", "Santé", "Conseil")
DUTCH_FIRST = ("Noord", "Polder", "Tulp", "Haven", "Molen", "Delta")
DUTCH_SECOND = ("Techniek", "Logistiek", "Handel", "Bouw", "Groep")
SPANISH_FIRST = ("Sol", "Sierra", "Costa", "Olivo", "Puerto", "Mirador")
SPANISH_SECOND = ("Sistemas", "Logística", "Construcciones", "Alimentos", "Servicios")

# per country (same order as params.COUNTRIES): words and legal suffixes
COUNTRY_WORDS = (
    (HEBREW_FIRST, HEBREW_SECOND, ("בע״מ",)),
    (ENGLISH_FIRST, ENGLISH_SECOND, ("Inc.", "LLC", "Corp.")),
    (ENGLISH_FIRST, ENGLISH_SECOND, ("Ltd", "plc")),
    (GERMAN_FIRST, GERMAN_SECOND, ("GmbH", "AG")),
    (FRENCH_FIRST, FRENCH_SECOND, ("SARL", "SA")),
    (DUTCH_FIRST, DUTCH_SECOND, ("B.V.",)),
    (SPANISH_FIRST, SPANISH_SECOND, ("S.L.", "S.A.")),
)

ISRAELI_COLLECTORS = ("Dana Levi", "Yossi Cohen", "Noa Mizrahi")
OTHER_COLLECTORS = ("Sarah Miller", "James Walker", "Anna Schmidt", "Claire Dubois")

DISPUTE_REASONS_EN = ("quantity", "price", "delivery date", "missing purchase order")
DISPUTE_REASONS_HE = ("כמות", "מחיר", "מועד אספקה", "הזמנת רכש חסרה")
NOTES_EN = (
    "Customer asked for a copy of the invoice",
    "Sent to the customer's new AP address",
    "Customer confirmed receipt",
)
NOTES_HE = ("הלקוח ביקש העתק חשבונית", "נשלח לכתובת הנהלת החשבונות החדשה", "הלקוח אישר קבלה")


def company_names(country_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One readable company name per customer, in the language of its country."""
    names = np.empty(len(country_idx), dtype=object)
    for country, (first, second, suffixes) in enumerate(COUNTRY_WORDS):
        rows = np.flatnonzero(country_idx == country)
        a = np.asarray(first, dtype=object)[rng.integers(0, len(first), len(rows))]
        b = np.asarray(second, dtype=object)[rng.integers(0, len(second), len(rows))]
        c = np.asarray(suffixes, dtype=object)[rng.integers(0, len(suffixes), len(rows))]
        names[rows] = a + " " + b + " " + c
    return names


def collectors(is_israeli: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A collector per customer from a small pool; Hebrew speakers for Israeli customers."""
    local = np.asarray(ISRAELI_COLLECTORS, dtype=object)
    other = np.asarray(OTHER_COLLECTORS, dtype=object)
    return np.where(
        is_israeli,
        local[rng.integers(0, len(local), len(is_israeli))],
        other[rng.integers(0, len(other), len(is_israeli))],
    )
