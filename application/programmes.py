"""Which loyalty programme (the brand's tunable rules) is in force for a brand."""

from __future__ import annotations

from domain.programme import LoyaltyProgramme


class ProgrammeCatalog:
    """Current programme per brand; brands without one get the documented defaults.

    Every decision event records the version it used, so replacing a programme
    never changes how past events read.
    """

    def __init__(self, programmes: dict[str, LoyaltyProgramme] | None = None) -> None:
        self._programmes = dict(programmes or {})

    def current(self, brand: str) -> LoyaltyProgramme:
        programme = self._programmes.get(brand)
        if programme is None:
            programme = self._programmes[brand] = LoyaltyProgramme.default(brand)
        return programme

    def publish(self, programme: LoyaltyProgramme) -> None:
        current = self._programmes.get(programme.brand)
        if current is not None and programme.version <= current.version:
            raise ValueError("a new programme needs a higher version")
        self._programmes[programme.brand] = programme
