"""The county as a tile map: each of Dalarna's 15 municipalities a tile on a
5 × 5 grid, placed roughly as they lie (north at the top). No boundary data:
a tile map needs only a position per municipality, by kommunkod."""

from dataclasses import dataclass

# kommunkod: (column, row)
POSITIONS = {
    "2039": (1, 0),  # Älvdalen
    "2034": (2, 0),  # Orsa
    "2023": (0, 1),  # Malung-Sälen
    "2062": (1, 1),  # Mora
    "2031": (2, 1),  # Rättvik
    "2021": (0, 2),  # Vansbro
    "2029": (1, 2),  # Leksand
    "2080": (2, 2),  # Falun
    "2026": (1, 3),  # Gagnef
    "2081": (2, 3),  # Borlänge
    "2082": (3, 3),  # Säter
    "2085": (1, 4),  # Ludvika
    "2061": (2, 4),  # Smedjebacken
    "2083": (3, 4),  # Hedemora
    "2084": (4, 4),  # Avesta
}


@dataclass
class Tile:
    row: object  # the overview row (cases.overview.selectors.OverviewRow)
    column: int
    line: int


def tiles(rows):
    """The rows of municipalities that have a place on the map, as tiles
    (north-west first, the order a screen reader reads them in)."""
    placed = [
        Tile(row=row, column=POSITIONS[row.municipality.kommunkod][0], line=POSITIONS[row.municipality.kommunkod][1])
        for row in rows
        if row.municipality.kommunkod in POSITIONS
    ]
    return sorted(placed, key=lambda t: (t.line, t.column))
