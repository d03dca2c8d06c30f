"""The rule modules (web/static/rules/*.js) for tests, through the same Node process the product uses:
`from rules import copying; copying.cueMatches(text, cues)` calls copying.js's cueMatches. Errors a rule throws
arrive as webslm.rulebook.RuleError (a ValueError)."""

from __future__ import annotations

from webslm import rulebook


class RuleModule:
    def __init__(self, name: str):
        self.name = name

    def __getattr__(self, function: str):
        if function.isupper():  # CONSTANTS
            return rulebook.constant(self.name, function)
        return lambda *args: rulebook.call(self.name, function, *args)


colors = RuleModule("colors")
copying = RuleModule("copying")
dates = RuleModule("dates")
emission = RuleModule("emission")
grounding = RuleModule("grounding")
locations = RuleModule("locations")
quantities = RuleModule("quantities")
spelling = RuleModule("spelling")
