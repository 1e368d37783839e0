"""People's names and e-mail addresses, drawn from fixed lists with the world's RNG."""

from __future__ import annotations

import numpy as np

FIRST_NAMES = (
    "Aaliyah", "Aaron", "Abigail", "Adam", "Adrian", "Aisha", "Alejandro", "Alex", "Alexis",
    "Alice", "Amanda", "Amara", "Amir", "Ana", "Andre", "Andrew", "Angela", "Anthony", "Ari",
    "Ava", "Ben", "Bianca", "Brandon", "Brianna", "Caleb", "Camila", "Carlos", "Carmen",
    "Chloe", "Chris", "Claire", "Daniel", "David", "Deja", "Derek", "Diana", "Diego", "Dylan",
    "Elena", "Eli", "Elijah", "Emily", "Emma", "Eric", "Ethan", "Fatima", "Felix", "Gabriel",
    "Grace", "Hannah", "Hector", "Henry", "Imani", "Isaac", "Isabella", "Jack", "Jacob", "Jada",
    "James", "Jasmine", "Jason", "Javier", "Jenna", "Jessica", "Jin", "John", "Jordan", "Jose",
    "Joshua", "Julia", "Justin", "Kai", "Karen", "Katie", "Kevin", "Kiara", "Laura", "Leah",
    "Leo", "Liam", "Lily", "Logan", "Lucas", "Luis", "Maya", "Megan", "Mei", "Mia", "Michael",
    "Miguel", "Naomi", "Nathan", "Nia", "Noah", "Nora", "Olivia", "Omar", "Owen", "Priya",
    "Rachel", "Rafael", "Rahul", "Ravi", "Rebecca", "Riley", "Rosa", "Ryan", "Samantha",
    "Samuel", "Sofia", "Sophie", "Tara", "Thomas", "Tyler", "Valeria", "Victor", "Wei",
    "William", "Yara", "Yusuf", "Zara", "Zoe",
)
LAST_NAMES = (
    "Adams", "Ahmed", "Allen", "Alvarez", "Anderson", "Bailey", "Baker", "Banks", "Bell",
    "Bennett", "Brooks", "Brown", "Campbell", "Carter", "Castillo", "Chang", "Chavez", "Chen",
    "Clark", "Collins", "Cook", "Cooper", "Cruz", "Davis", "Diaz", "Edwards", "Evans", "Flores",
    "Foster", "Garcia", "Gomez", "Gonzalez", "Gray", "Green", "Gupta", "Hall", "Harris",
    "Hayes", "Hernandez", "Hill", "Hughes", "Jackson", "James", "Jenkins", "Johnson", "Jones",
    "Kelly", "Khan", "Kim", "King", "Lee", "Lewis", "Lin", "Lopez", "Martin", "Martinez",
    "Mendoza", "Miller", "Mitchell", "Moore", "Morales", "Morgan", "Murphy", "Nguyen", "Nelson",
    "Ortiz", "Park", "Parker", "Patel", "Perez", "Perry", "Phillips", "Price", "Ramirez",
    "Ramos", "Reed", "Reyes", "Richardson", "Rivera", "Roberts", "Robinson", "Rodriguez",
    "Rogers", "Ross", "Ruiz", "Sanchez", "Sanders", "Scott", "Shah", "Singh", "Smith",
    "Stewart", "Sullivan", "Taylor", "Thomas", "Thompson", "Torres", "Turner", "Walker", "Wang",
    "Ward", "Washington", "Watson", "White", "Williams", "Wilson", "Wong", "Wright", "Wu",
    "Young", "Zhang",
)

# The demo personas' names are reserved: no simulated person may share them.
RESERVED = {("Sarah", "Chen"), ("Mike", "Ross")}


def draw_names(
    rng: np.random.Generator, ids: np.ndarray, domain: str
) -> tuple[list[str], list[str]]:
    """Full names and unique e-mail addresses (the id makes them unique) for ``ids``."""
    n = len(ids)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    names: list[str] = []
    emails: list[str] = []
    for f, s, i in zip(first.tolist(), last.tolist(), ids.tolist(), strict=True):
        fn, ln = FIRST_NAMES[f], LAST_NAMES[s]
        if (fn, ln) in RESERVED:
            ln = LAST_NAMES[(s + 1) % len(LAST_NAMES)]
        names.append(f"{fn} {ln}")
        emails.append(f"{fn.lower()}.{ln.lower()}{i}@{domain}")
    return names, emails
