"""The policy schema (DESIGN.md §4): what an operator may configure, and its checks.

Every model is strict, frozen and refuses unknown keys, so that a typo in the policy
file stops the server at start instead of silently changing nothing. The defaults live
in ``default.yaml`` only; the loader merges the operator's file over them.

Validation errors raised from cross-field checks carry a ``subpath`` in their context so
the loader can name the exact key (``scale_tiers.approval_from_tier``).
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Final, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .constants import LANGUAGES, Language
from .durations import parse_duration
from .errors import InvalidDuration
from .measures import MEASURES_FOR, Measure, SubjectKind
from .reasons import Reason

CreditLevel = Literal["A", "B", "C", "D", "E"]
CREDIT_LEVELS: Final[tuple[CreditLevel, ...]] = get_args(CreditLevel)
Risk = Literal["normal", "elevated", "high"]
RISKS: Final[tuple[Risk, ...]] = get_args(Risk)
Severity = Literal["severe", "illegal", "other"]
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
Action = Literal["post", "create", "invite"]

# Art. 13: network logs are kept at least six months; 184 days covers any six
# consecutive calendar months.
RETENTION_MIN_DAYS: Final = 184

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1)]
ServerName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]+(:\d+)?$")]


def _invalid(subpath: str, message: str) -> PydanticCustomError:
    """A validation error whose key path is ``subpath`` below the model's own."""
    return PydanticCustomError("policy", message, {"subpath": subpath})


def _duration(value: object) -> object:
    """Let durations be written as ``72h`` or ``perm`` as well as seconds."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except InvalidDuration as exc:
            raise ValueError(str(exc)) from None
    return value


Seconds = Annotated[int, BeforeValidator(_duration), Field(gt=0)]
"""A positive duration in seconds (``perm`` is refused)."""
SecondsOrPermanent = Annotated[Annotated[int, Field(ge=0)] | None, BeforeValidator(_duration)]
"""A duration in seconds; ``None`` (``perm``) is permanent, 0 an instant measure."""


def _both_languages(value: dict[Language, str]) -> dict[Language, str]:
    missing = [language for language in LANGUAGES if language not in value]
    if missing:
        raise ValueError(f"needs a text for every language, missing {', '.join(missing)}")
    return value


Labels = Annotated[dict[Language, Text], AfterValidator(_both_languages)]
"""One human text per language: ``{"zh-CN": ..., "en": ...}``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# --- realname ------------------------------------------------------------------------


class Federation(_Frozen):
    """People on other servers cannot be verified here (Art. 6)."""

    allow_remote_users: bool
    partner_servers: tuple[ServerName, ...]


class Realname(_Frozen):
    """后台实名: verification before publishing (Art. 6)."""

    required_for: tuple[Action, ...]
    required_level: int = Field(ge=1)
    join_without_verification_up_to_tier: Name
    max_accounts_per_identity: int = Field(ge=1)
    attempts_per_day: int = Field(ge=1)
    # Submissions refused for their format (never sent to a provider) per account and hour.
    format_errors_per_hour: int = Field(default=20, ge=1)
    federation: Federation


# --- scale and activity tiers (Art. 7, 8) --------------------------------------------


class ScaleTier(_Frozen):
    """A tier by joined members: a room belongs to the first tier it fits in."""

    name: Name
    max_members: int = Field(ge=1)
    labels: Labels


class ScaleTiers(_Frozen):
    """Tiers by member scale; the last tier's ``max_members`` is the hard ceiling."""

    tiers: tuple[ScaleTier, ...] = Field(min_length=1)
    info_page_from_members: int = Field(ge=1)
    approval_from_tier: Name
    staff_decision_tier: Name

    @field_validator("tiers")
    @classmethod
    def _increasing(cls, tiers: tuple[ScaleTier, ...]) -> tuple[ScaleTier, ...]:
        _unique([tier.name for tier in tiers])
        for lower, upper in itertools.pairwise(tiers):
            if upper.max_members <= lower.max_members:
                raise ValueError(
                    f"max_members must increase strictly: {upper.name} ({upper.max_members}) "
                    f"is not above {lower.name} ({lower.max_members})"
                )
        return tiers

    @model_validator(mode="after")
    def _references(self) -> Self:
        for key in ("approval_from_tier", "staff_decision_tier"):
            _known(key, getattr(self, key), self.names, "tier")
        if self.staff_decision_tier == self.names[0]:
            # Rooms must be able to exist without a staff decision.
            raise _invalid("staff_decision_tier", "cannot be the smallest tier")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """Tier names, smallest first."""
        return tuple(tier.name for tier in self.tiers)

    @property
    def ceiling(self) -> int:
        """The hard ceiling on members of any room (Art. 8)."""
        return self.tiers[-1].max_members


class ActivityTier(_Frozen):
    """A tier by messages in the window; ``below: null`` on the last tier only."""

    name: Name
    below: Annotated[int, Field(ge=1)] | None


class ActivityTiers(_Frozen):
    """Tiers by activity (Art. 7)."""

    window_days: int = Field(ge=1)
    tiers: tuple[ActivityTier, ...] = Field(min_length=1)

    @field_validator("tiers")
    @classmethod
    def _increasing(cls, tiers: tuple[ActivityTier, ...]) -> tuple[ActivityTier, ...]:
        _unique([tier.name for tier in tiers])
        bounds = [tier.below for tier in tiers]
        if bounds[-1] is not None or any(bound is None for bound in bounds[:-1]):
            raise ValueError("only the last tier has no upper bound (below: null)")
        limits = [bound for bound in bounds if bound is not None]
        if any(upper <= lower for lower, upper in itertools.pairwise(limits)):
            raise ValueError("below must increase strictly from tier to tier")
        return tiers


# --- categories (Art. 7) -------------------------------------------------------------


class Category(_Frozen):
    """A room category (nature of the group), chosen at creation."""

    risk: Risk
    labels: Labels
    enabled: bool = True


class RiskRule(_Frozen):
    """What a risk level demands of creators and joiners (Art. 8: tiered vetting)."""

    min_creator_level: CreditLevel | None
    min_verification_level: int = Field(ge=1)
    join_approval_always: bool


class Categories(_Frozen):
    """Known categories keyed by name, the default, and the rules per risk level."""

    known: dict[Name, Category] = Field(min_length=1)
    default_category: Name
    risk_rules: dict[Risk, RiskRule]

    @model_validator(mode="after")
    def _references(self) -> Self:
        _known("default_category", self.default_category, tuple(self.known), "category")
        if not self.known[self.default_category].enabled:
            raise _invalid("default_category", "the default category must be enabled")
        for risk in RISKS:
            if risk not in self.risk_rules:
                raise _invalid(f"risk_rules.{risk}", "missing rule for this risk level")
        return self


# --- credit (Art. 7) -----------------------------------------------------------------


class LevelRules(_Frozen):
    """What a credit level may do, and its caps (Art. 7, 8)."""

    min_score: int
    rooms_owned: int = Field(ge=0)
    max_room_tier: Name | None
    rooms_joined: int = Field(ge=0)
    may_create: bool
    may_invite: bool
    may_post: bool


class Recovery(_Frozen):
    """Credit regained for time without a violation."""

    points: int = Field(ge=0)
    every_days: int = Field(ge=1)
    # The score recovery lifts a person to; scores above it (staff grants) are left alone.
    ceiling: int


class Credit(_Frozen):
    """The credit score, its range and the levels cut from it."""

    min: int
    max: int
    initial: int
    recovery: Recovery
    levels: dict[CreditLevel, LevelRules]

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.min >= self.max:
            raise _invalid("max", f"must be above min ({self.min}), got {self.max}")
        if not self.min <= self.initial <= self.max:
            raise _invalid("initial", f"must lie between min and max ({self.min}..{self.max}), got {self.initial}")
        if not self.min <= self.recovery.ceiling <= self.max:
            raise _invalid(
                "recovery.ceiling",
                f"must lie between min and max ({self.min}..{self.max}), got {self.recovery.ceiling}",
            )
        for level in CREDIT_LEVELS:
            if level not in self.levels:
                raise _invalid(f"levels.{level}", "missing; levels A to E must all be defined")
        scores = [self.levels[level].min_score for level in CREDIT_LEVELS]
        for (upper, upper_score), (lower, lower_score) in itertools.pairwise(zip(CREDIT_LEVELS, scores, strict=True)):
            if lower_score >= upper_score:
                raise _invalid(
                    f"levels.{lower}.min_score",
                    f"must be below {upper}'s min_score ({upper_score}), got {lower_score}",
                )
        # Every score in min..max must fall in a level: the lowest level starts at min.
        lowest = CREDIT_LEVELS[-1]
        if scores[-1] > self.min:
            raise _invalid(
                f"levels.{lowest}.min_score",
                f"must be at most credit.min ({self.min}) so every score has a level, got {scores[-1]}",
            )
        if scores[0] > self.max:
            raise _invalid(
                f"levels.{CREDIT_LEVELS[0]}.min_score",
                f"must be reachable (at most credit.max, {self.max}), got {scores[0]}",
            )
        return self


# --- sanctions (Art. 11) -------------------------------------------------------------


class LadderStep(_Frozen):
    """One step of an escalation ladder."""

    measure: Measure
    duration: SecondsOrPermanent
    credit_delta: int = Field(le=0)
    blacklist: bool = False
    # How many violations within the window this step answers before the next one applies.
    repeat: int = Field(default=1, ge=1)


class Sanctions(_Frozen):
    """Escalation ladders per subject, and credit deltas per measure."""

    repeat_window_days: int = Field(ge=1)
    ladders: dict[SubjectKind, tuple[LadderStep, ...]]
    severe_categories: tuple[Name, ...]
    credit_deltas: dict[Measure, Annotated[int, Field(le=0)]]
    # Art. 11 (向有关主管部门报告): measures that always make a regulator report, and whether
    # any measure in a severe category does too.
    reportable_measures: tuple[Measure, ...] = (Measure.CLOSURE, Measure.BLACKLIST)
    report_severe: bool = True
    # Art. 11: when a room is blacklisted, its owner and admins are reviewed: these
    # owner/admin measures are taken against them (each notified and appealable).
    blacklisted_room_owner: tuple[LadderStep, ...] = ()
    blacklisted_room_admins: tuple[LadderStep, ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> Self:
        for key in ("blacklisted_room_owner", "blacklisted_room_admins"):
            for index, step in enumerate(getattr(self, key)):
                if step.measure not in MEASURES_FOR[SubjectKind.ADMIN]:
                    raise _invalid(f"{key}.{index}.measure", f"{step.measure} is not an owner/admin measure")
        for kind in SubjectKind:
            steps = self.ladders.get(kind)
            if not steps:
                raise _invalid(f"ladders.{kind}", "missing; needs at least one step")
            for index, step in enumerate(steps):
                if step.measure not in MEASURES_FOR[kind]:
                    allowed = ", ".join(sorted(MEASURES_FOR[kind]))
                    raise _invalid(
                        f"ladders.{kind}.{index}.measure",
                        f"{step.measure} is not a {kind} measure (use one of {allowed})",
                    )
        for measure in Measure:
            if measure not in self.credit_deltas:
                raise _invalid(f"credit_deltas.{measure}", "missing credit delta for this measure")
        return self


# --- reports (Art. 12) ---------------------------------------------------------------


class ReportCategory(_Frozen):
    """A report category of the 12377 set and how urgent it is."""

    severity: Severity
    labels: Labels


class Reports(_Frozen):
    """Report categories and handling deadlines."""

    categories: dict[Name, ReportCategory] = Field(min_length=1)
    deadlines: dict[Severity, Seconds]

    @model_validator(mode="after")
    def _deadlines(self) -> Self:
        for severity in SEVERITIES:
            if severity not in self.deadlines:
                raise _invalid(f"deadlines.{severity}", "missing deadline for this severity")
        return self


# --- records (Art. 13) ---------------------------------------------------------------


class Retention(_Frozen):
    """How long the network log and audit log are kept."""

    days: int
    purge_batch_size: int = Field(ge=1)

    @field_validator("days")
    @classmethod
    def _six_months(cls, days: int) -> int:
        # Art. 13: 网络日志 kept no less than six months.
        if days < RETENTION_MIN_DAYS:
            raise ValueError(f"must be at least {RETENTION_MIN_DAYS} (six calendar months, Art. 13), got {days}")
        return days


# --- convention and messages (Art. 5) ------------------------------------------------


class Convention(_Frozen):
    """The platform convention users accept before their first post (Art. 5)."""

    version: Text
    text: Labels


_OPTIONAL_SEGMENT: Final = re.compile(r"\[\[|\]\]")


def _check_catalogue(
    value: dict[Language, dict[Reason, str]],
) -> dict[Language, dict[Reason, str]]:
    for language in LANGUAGES:
        texts = value.get(language)
        if texts is None:
            raise _invalid(language, "missing message catalogue for this language")
        for reason in Reason:
            text = texts.get(reason)
            if text is None:
                raise _invalid(f"{language}.{reason}", "missing message for this reason")
            depth = 0
            for marker in _OPTIONAL_SEGMENT.findall(text):
                depth += 1 if marker == "[[" else -1
                if depth not in (0, 1):
                    raise _invalid(f"{language}.{reason}", "unbalanced [[ ]] segment")
            if depth:
                raise _invalid(f"{language}.{reason}", "unbalanced [[ ]] segment")
    return value


Messages = Annotated[dict[Language, dict[Reason, Text]], AfterValidator(_check_catalogue)]
"""Per language, one text per reason; ``{name}`` is filled from the decision detail and
a ``[[ … ]]`` segment is left out when a placeholder inside it has no value."""


# --- content (Art. 10) --------------------------------------------------------------

ContentAction = Literal["block", "hold", "flag"]
"""``block`` refuses; ``hold`` refuses and opens a ticket; ``flag`` delivers and opens a ticket."""


class ContentCategory(_Frozen):
    """A category of prohibited (illegal) or harmful content and what a hit does."""

    action: ContentAction
    # The report category whose severity sets the ticket's deadline (reports.categories).
    report_category: Name
    # Term files, one term per line; relative paths are below content.terms_dir.
    lists: tuple[Text, ...]
    labels: Labels
    enabled: bool = True


class MediaHashes(_Frozen):
    """Known prohibited files by SHA-256; an upload that matches is refused."""

    category: Name
    lists: tuple[Text, ...]


class Encryption(_Frozen):
    """End-to-end encrypted rooms cannot be screened (Art. 10), so the policy decides."""

    # Room categories in which members may enable encryption.
    allowed_categories: tuple[Name, ...]
    allow_direct_messages: bool
    # Why encryption is refused, shown to the person who tried.
    explanation: Labels


class Content(_Frozen):
    """Prohibited content rules: term lists per category, allow-list, media hashes."""

    # Directory of relative list paths; null: the lists bundled with Qunzu.
    terms_dir: Text | None
    reload_interval: Seconds
    categories: dict[Name, ContentCategory]
    allow_lists: tuple[Text, ...]
    media_hashes: MediaHashes
    encryption: Encryption

    @model_validator(mode="after")
    def _references(self) -> Self:
        _known("media_hashes.category", self.media_hashes.category, tuple(self.categories), "content category")
        return self


# --- root ----------------------------------------------------------------------------


class Policy(_Frozen):
    """The whole policy. Load it with ``policies.load_policy``."""

    realname: Realname
    scale_tiers: ScaleTiers
    activity_tiers: ActivityTiers
    categories: Categories
    credit: Credit
    sanctions: Sanctions
    reports: Reports
    retention: Retention
    convention: Convention
    messages: Messages
    content: Content

    @model_validator(mode="after")
    def _references(self) -> Self:
        tiers = self.scale_tiers.names
        _known(
            "realname.join_without_verification_up_to_tier",
            self.realname.join_without_verification_up_to_tier,
            tiers,
            "tier",
        )
        for level, rules in self.credit.levels.items():
            if rules.max_room_tier is not None:
                _known(f"credit.levels.{level}.max_room_tier", rules.max_room_tier, tiers, "tier")
        for name, rule in self.content.categories.items():
            _known(
                f"content.categories.{name}.report_category",
                rule.report_category,
                tuple(self.reports.categories),
                "report category",
            )
        # One vocabulary: the ladder's severe kinds are report categories.
        for index, category in enumerate(self.sanctions.severe_categories):
            _known(f"sanctions.severe_categories.{index}", category, tuple(self.reports.categories), "report category")
        for index, category in enumerate(self.content.encryption.allowed_categories):
            _known(f"content.encryption.allowed_categories.{index}", category, tuple(self.categories.known), "category")
        return self


def _known(subpath: str, name: str, known: tuple[str, ...], what: str) -> None:
    if name not in known:
        raise _invalid(subpath, f"unknown {what} {name!r} (known: {', '.join(known)})")


def _unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"name {name!r} appears twice")
        seen.add(name)
