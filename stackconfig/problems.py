"""Problems in a stack's configuration, and the one error that reports them all.

Every check of the configuration, from the YAML reader to the cross-key rules,
ends here: a :class:`Problem` names the file to edit, the key (dotted, down to
list index, as ``pulumi config set --path`` spells it), what is wrong and what
is allowed. :func:`shown` decides whether a value may be echoed back: never a
secret, never something that looks like one.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pulumi

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong, in one file, at one key."""

    file: str
    """The file to edit: ``Pulumi.<stack>.yaml`` or ``Pulumi.yaml``."""
    key: str
    """Where in that file: ``flowbuilder:network.publicSubnetCidrs[1]``, ``name``, or ``line 3, column 5``."""
    message: str

    def line(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class ConfigError(pulumi.RunError):
    """Invalid configuration, raised before any resource is declared.

    A ``pulumi.RunError``: the Pulumi CLI prints its message without a traceback.
    """

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def of(cls, problems: Iterable[Problem], headings: dict[str, str] | None = None) -> ConfigError:
        """One error listing every problem, grouped by file (files in the order first met).

        Messages pass through :func:`redact` on the way out, whatever check wrote them.
        """
        problems = [Problem(p.file, redact(p.key), redact(p.message)) for p in problems]
        files = list(dict.fromkeys(problem.file for problem in problems))
        blocks = []
        for file in files:
            heading = (headings or {}).get(file, "invalid configuration")
            lines = "\n".join(f"  - {p.line()}" for p in problems if p.file == file)
            blocks.append(f"{file}: {heading}\n{lines}")
        return cls("\n".join(blocks), problems)


class Invalid(ValueError):
    """Raised by a validator: problems at paths relative to the value it validates.

    Pydantic keeps the exception in the error's context, so the loader reports
    each problem at its own key instead of at the section that checked it.
    """

    def __init__(self, *problems: tuple[Path, str]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems

    @classmethod
    def at(cls, path: Path | str | int, message: str) -> Invalid:
        return cls(((path,) if isinstance(path, str | int) else tuple(path), message))


def dotted(path: Path) -> str:
    """``("network", "publicSubnetCidrs", 1)`` -> ``network.publicSubnetCidrs[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# -- what may be echoed ---------------------------------------------------------------------------
SECRET_WORDS = re.compile(r"(?i)(pass(word|wd)?|pwd|secret|token|credential|api[-_]?key|private[-_]?key|auth)")
_CREDENTIAL_PATTERNS = (
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@]+@", re.IGNORECASE),  # a URL with user info
    re.compile(r"(?i)(pass(word|wd)?|pwd|secret|token|api[-_]?key)\s*[=:]"),
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"-----BEGIN [A-Z ]+-----"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\."),  # a JWT
)
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9+/=_-]{20,}$")


def looks_secret(text: str) -> bool:
    """Whether a string could be a credential: a URL with user info, a key=value secret, an AWS key,
    a PEM block, a JWT, or a long random-looking token (mixed case and digits, no separators)."""
    if any(pattern.search(text) for pattern in _CREDENTIAL_PATTERNS):
        return True
    if _TOKEN_LIKE.match(text):
        classes = sum(bool(re.search(c, text)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
        return classes >= 2 and _entropy(text) >= 3.5
    return False


_REDACTIONS = (
    (re.compile(r"([a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE), r"\1<redacted>@"),
    (re.compile(r"(?i)\b(pass(word|wd)?|pwd|secret|token|api[-_]?key)(\s*[=:]\s*)[^\s,;'\"]+"), r"\1\3<redacted>"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "<redacted>"),
    (re.compile(r"-----BEGIN [A-Z ]+-----.*?(-----END [A-Z ]+-----|$)", re.DOTALL), "<redacted>"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9._-]*"), "<redacted>"),
)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+=_-]{20,}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


VOCABULARY: set[str] = set()
"""Words the model itself defines (key names such as ``rateLimitPer5Minutes``, enum values such as
``ELBSecurityPolicy-TLS13-1-2-2021-06``): never a credential, so never redacted. Filled by the model."""


def redact(text: str) -> str:
    """``text`` with anything credential-shaped replaced: the last guard before a message is printed.

    Long tokens are redacted only when they mix letters and digits at high entropy and are not in
    :data:`VOCABULARY`, so key names (``oldestMessageAgeSeconds``) and allowed values survive.
    """
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)

    def token(match: re.Match[str]) -> str:
        word = match.group()
        random = re.search("[A-Za-z]", word) and re.search("[0-9]", word) and _entropy(word) >= 3.5
        return "<redacted>" if random and not _UUID.fullmatch(word) and word not in VOCABULARY else word

    return _LONG_TOKEN.sub(token, text)


def _entropy(text: str) -> float:
    counts = {char: text.count(char) for char in set(text)}
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def shown(value: object, path: Path = ()) -> str | None:
    """``value`` as it may appear in a message, or None when it must not be echoed.

    Never echoed: anything under a key whose name speaks of a secret, any string
    that looks like a credential, and long strings (which may embed one).
    """
    if any(isinstance(part, str) and SECRET_WORDS.search(part) for part in path):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if len(value) > 120 or looks_secret(value):
            return None
        return repr(value)
    return None


def got(value: object, path: Path = ()) -> str:
    """`` (got 'x')`` when the value may be echoed, else nothing."""
    text = shown(value, path)
    return f" (got {text})" if text is not None else ""


def kind_of(value: object) -> str:
    """How a value reads in YAML terms, for "must be X, not Y" messages."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` did you mean 'x'?`` for the closest candidate (case-insensitive first), else nothing."""
    candidates = list(candidates)
    folded = [c for c in candidates if c.lower() == word.lower()]
    close = folded or difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""


def listing(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)
