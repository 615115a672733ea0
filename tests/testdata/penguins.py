"""A small penguin-like table (267 rows by default) for the multiclass and regression example modules.

Three species with overlapping measurements, an island column, and missing values (like the real Palmer penguins
table). Deterministic for a seed.
"""

from __future__ import annotations

import csv
import os

import numpy as np

SPECIES = {  # bill length, bill depth, flipper length (mm), body mass (g): means
    "Adelie": (38.8, 18.3, 190.0, 3700.0),
    "Chinstrap": (48.8, 18.4, 196.0, 3730.0),
    "Gentoo": (47.5, 15.0, 217.0, 5080.0),
}
ISLANDS = {"Adelie": ["Torgersen", "Biscoe", "Dream"], "Chinstrap": ["Dream"], "Gentoo": ["Biscoe"]}
COLUMNS = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]


def write_csv(path: str, n_rows: int = 267, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    names = list(SPECIES)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for _ in range(n_rows):
            species = names[rng.choice(3, p=[0.44, 0.2, 0.36])]
            bill_l, bill_d, flipper, mass = SPECIES[species]
            sex = "male" if rng.random() < 0.5 else "female"
            scale = 1.04 if sex == "male" else 0.96
            row = [
                species,
                ISLANDS[species][rng.integers(len(ISLANDS[species]))],
                round(rng.normal(bill_l, 2.8) * scale, 1),
                round(rng.normal(bill_d, 1.1) * scale, 1),
                round(rng.normal(flipper, 6.5)),
                round(rng.normal(mass, 420.0) * scale),
                sex,
            ]
            if rng.random() < 0.03:  # a few unmeasured birds, as in the real table
                row[2:5] = ["", "", ""]
            if rng.random() < 0.04:
                row[6] = ""
            w.writerow(row)
    return path
