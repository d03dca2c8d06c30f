"""Places for generated commands, drawn from the domain's gazetteer the way people write them (a famous name, an
alias, a country, "Name, Country", without accents), each written form checked to resolve back to its place."""

from __future__ import annotations

import random
import unicodedata

from webslm.domain import Domain
from webslm.errors import WebslmError
from webslm.rulebook import Gazetteer, Place


class PlacePicker:
    """Draws places from the gazetteer: a share from a hand-picked well-known list, the rest weighted by
    population (sqrt, so the long tail is covered), written as the name, an alias, a country, or 'Name, Country'.
    Every written form is checked to resolve back to the intended place."""

    def __init__(self, domain: Domain, spec: dict, rng: random.Random):
        if domain.gazetteer_path is None:
            raise WebslmError(f"domain {domain.name!r} has place slots but no gazetteer")
        self.g = Gazetteer(domain)
        self.spec, self.rng = spec, rng
        self.country_names = {code: _title(name) for name, code in sorted(self.g.countries.items())}
        self.famous = [self._checked(name) for name in spec.get("well_known", [])]
        self.aliases = [(alias, self._checked(alias)) for alias in spec.get("aliases", [])]
        self.countries = [(name, self._checked(name)) for name in spec.get("countries", [])]
        weight = spec.get("population_exponent", 0.5)
        self.cities = [p for p in self.g.places if p.kind == "city"]
        self.weights = [p.population ** weight for p in self.cities]
        # areas, natural features and landmarks (countries, states, seas, mountains, towers...): drawn evenly, each
        # written as a name that resolves back to it (a state shadowed by a country of its name is left out)
        others = [p for p in self.g.places if p.kind != "city"]
        named = [(p, n) for p in others for n in (p.name, *self.g.known_as.get(p, ()))]
        back = self.g.resolve_many([n for _, n in named])
        # its "Name, CC" (the record's meta) must name it too: Greenland the island shares it with the country
        canonical = dict(zip(others, self.g.resolve_many([f"{p.name}, {p.country}" for p in others])))
        self.features: dict = {}
        for (p, n), got in zip(named, back):
            if got == p and canonical[p] == p and len(n.split()) <= _MAX_FEATURE_WORDS and "," not in n:
                self.features.setdefault(p, []).append(n)
        self.feature_list = sorted(self.features, key=lambda p: (p.kind, p.name))

    def _checked(self, text: str) -> Place:
        place = self.g.resolve(text)
        if place is None:
            raise WebslmError(f"templates: place {text!r} does not resolve in the gazetteer")
        return place

    def random_place(self) -> Place:
        return self.rng.choices(self.cities, weights=self.weights)[0]

    def _feature(self, in_list: bool) -> tuple[str, Place]:
        """An area, feature or landmark, written as one of its names; in a list, never a name that reads as two
        ("Trinidad and Tobago")."""
        while True:
            place = self.rng.choice(self.feature_list)
            text = self.rng.choice(self.features[place])
            if not in_list or not _LIST_WORDS.intersection(text.lower().split()):
                break
        if place.kind in _WITH_ARTICLE and text.split()[0] not in _NO_ARTICLE_BEFORE and self.rng.random() < 0.7:
            text = "the " + text
        return text, place

    def pick(self, slot: dict) -> tuple[str, str]:
        s, rng = {**self.spec, **slot}, self.rng
        r = rng.random()
        alias, country, feature = s.get("alias_rate", 0.05), s.get("country_rate", 0.0), s.get("feature_rate", 0.0)
        if r < alias and self.aliases:
            text, place = rng.choice(self.aliases)
        elif r < alias + country and self.countries:
            text, place = rng.choice(self.countries)
        elif r < alias + country + feature and self.feature_list:
            text, place = self._feature(in_list=bool(s.get("no_comma")))
        else:
            text = None
            while text is None:  # a few small places share name and country with a bigger one: draw again
                place = rng.choice(self.famous) if rng.random() < s.get("well_known_rate", 0.4) else self.random_place()
                text = self._written(place, s)
        if rng.random() < s.get("lowercase_rate", 0.0):
            text = text.lower()
        return text, f"{place.name}, {place.country}"

    def _written(self, place: Place, s: dict) -> str | None:
        text = place.name
        if self.rng.random() < s.get("ascii_rate", 0.3):
            text = without_accents(text)
        resolved = self.g.resolve(text)
        if resolved != place or self.rng.random() < s.get("qualified_rate", 0.05):
            country = self.country_names.get(place.country, place.country)
            text = f"{text}, {country}" if self.rng.random() < 0.7 else f"{text}, {place.country}"
            if self.g.resolve(text) != place:
                return None
        return text



# Kinds people name with "the" ("the Sahara", "the Alps", "the Eiffel Tower"), unless the name starts with a title
# word ("Mount Fuji", "Lake Como", "Big Ben" is a building without one: a few read oddly, all resolve).
_WITH_ARTICLE = frozenset({"ocean", "sea", "gulf", "bay", "strait", "desert", "canyon", "range", "river",
                           "archipelago", "reef", "peninsula", "glacier", "building", "bridge", "monument"})
_NO_ARTICLE_BEFORE = frozenset({"Mount", "Mt", "Lake", "Loch", "Cape", "Big", "Saint", "St"})
_MAX_FEATURE_WORDS = 4  # "South Georgia and the South Sandwich Islands" is drawn as none of its names
_LIST_WORDS = frozenset({"and", "&", "/", "to", "then", "or", "via", "through"})


def without_accents(text: str) -> str:
    """'São Tomé' -> 'Sao Tome' (GeoNames writes capitals this way; people type names this way)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))



def _title(name: str) -> str:
    small = {"and", "of", "the", "da", "de"}
    return " ".join(w if w in small and i else w.capitalize() for i, w in enumerate(name.split()))
