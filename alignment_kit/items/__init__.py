"""The graded items of the homework, one module per item in this folder, found by discovery.

Each module `<name>.py` declares `ITEM = Item(...)` (name, part, points, kind, title); a graded
function's module also holds what students may see of its grading: `OUTPUT`, how its output is
read (`outputs.OutputSpec`), and `public_probes()`, the inputs of its public self-check. What only
the grader holds (hidden probes, named mistakes, the configurations a cell is re-run under) is in
the grader's module of the same name, `autograder/items/<name>.py`.

Everything else derives from these declarations: the grader's registry, the part totals, the
feedback and gradebook columns, the markers that find a re-run cell, the self-checks and the
README's points table. A test compares them with the nbgrader metadata of the source notebook.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

from alignment_kit import i18n, tracks
from alignment_kit.declaration import CELL, FUNCTION, KINDS, MANUAL, Item  # noqa: F401 - the types, here too


@dataclass(frozen=True)
class Part:
    """A section of the homework; its points are the sum of its items' points."""

    name: str
    title: str
    bonus: bool = False  # bonus points come on top of the homework's total
    track_titles: tuple[tuple[str, str], ...] = ()  # (track, title) where an edition calls the part otherwise

    @property
    def points(self) -> float:
        return self.points_in(tracks.DEFAULT)

    @property
    def autograded_points(self) -> float:
        return self.points_in(tracks.DEFAULT, autograded_only=True)

    def points_in(self, track: str, autograded_only: bool = False) -> float:
        """The part's points in the edition `track` (its autograded ones only, if asked)."""
        return round(sum(i.points for i in edition_items(track) if i.part == self.name
                         and (i.autograded or not autograded_only)), 4)

    @property
    def shown_title(self) -> str:
        """The title in the current language (catalog key "part.<name>")."""
        return i18n.text(f"part.{self.name}", self.title)

    def shown_title_in(self, track: str) -> str:
        """The title the edition `track` gives the part, in the current language (key "part.<name>.<track>")."""
        titles = dict(self.track_titles)
        return i18n.text(f"part.{self.name}.{track}", titles[track]) if track in titles else self.shown_title


PARTS = (
    Part("data_prep", "Data preparation"),
    Part("dpo_loss", "DPO loss"),
    Part("dpo_training", "DPO training"),
    Part("reward_model", "Reward model"),
    Part("ppo", "PPO", track_titles=(("rloo", "RLOO"),)),
    Part("analysis", "Analysis"),
    Part("bonus", "Bonus: model cards", bonus=True),
    Part("star", "Star tasks (optional): online and weighted DPO", bonus=True),
)


def _discover() -> dict[str, ModuleType]:
    """The item modules of this folder by item name, in the homework's order (part, then `order`)."""
    parts = [p.name for p in PARTS]
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        declared = getattr(module, "ITEM", None)
        if not isinstance(declared, Item):
            raise TypeError(f"{module.__file__} must declare ITEM = Item(...)")
        if declared.name != info.name:
            raise ValueError(f"{module.__file__} declares the item {declared.name!r}: name the file after its item")
        if declared.part not in parts:
            raise ValueError(f"{declared.name}: unknown part {declared.part!r}; parts: {parts}")
        if declared.kind == FUNCTION and not (hasattr(module, "OUTPUT") and hasattr(module, "public_probes")):
            raise TypeError(f"{module.__file__}: a graded function needs OUTPUT and public_probes()")
        found[declared.name] = module
    ordered = sorted(found.values(), key=lambda m: (parts.index(m.ITEM.part), m.ITEM.order, m.ITEM.name))
    return {m.ITEM.name: m for m in ordered}


MODULES = _discover()
ALL_ITEMS: tuple[Item, ...] = tuple(module.ITEM for module in MODULES.values())  # every edition's


@functools.lru_cache(maxsize=None)
def edition_items(track: str) -> tuple[Item, ...]:
    """The items of the edition whose part 5 is `track`."""
    tracks.checked(track)
    return tuple(i for i in ALL_ITEMS if i.in_track(track))


ITEMS: tuple[Item, ...] = edition_items(tracks.DEFAULT)  # the seed's homework (the PPO edition)


def _module(name: str) -> ModuleType:
    if name not in MODULES:
        raise KeyError(f"no graded item {name!r}; known items: {list(MODULES)}")
    return MODULES[name]


def item(name: str) -> Item:
    """The item called `name`; the error lists the known names."""
    return _module(name).ITEM


def output(name: str):
    """How the output of the graded function `name` is read (its module's `OUTPUT`)."""
    return _module(name).OUTPUT


def public_probes(name: str) -> list:
    """The public probes of the graded function `name`, in a fixed order."""
    return _module(name).public_probes()


def part(name: str) -> Part:
    for candidate in PARTS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no part {name!r}; known parts: {[p.name for p in PARTS]}")


def items_of(kind: str, track: str = tracks.DEFAULT) -> list[Item]:
    return [i for i in edition_items(track) if i.kind == kind]


def homework_points(track: str = tracks.DEFAULT) -> float:
    """Points of the homework without the bonus parts (9 in the original)."""
    return round(sum(p.points_in(track) for p in PARTS if not p.bonus), 4)


def autograded_points(track: str = tracks.DEFAULT) -> float:
    """Autograded points of the homework without the bonus parts."""
    return round(sum(p.points_in(track, autograded_only=True) for p in PARTS if not p.bonus), 4)


def bonus_points(autograded_only: bool = False, track: str = tracks.DEFAULT) -> float:
    """Points of the bonus parts (autograded ones only, if asked)."""
    return round(sum(p.points_in(track, autograded_only) for p in PARTS if p.bonus), 4)


def autograded_maximum(track: str = tracks.DEFAULT) -> float:
    """The most an autograded score can be: the homework's autograded points plus the autograded bonus."""
    return round(autograded_points(track) + bonus_points(autograded_only=True, track=track), 4)


def hand_graded_points(track: str = tracks.DEFAULT) -> float:
    """Points a person grades, bonus included."""
    return round(sum(i.points for i in edition_items(track) if not i.autograded), 4)
