"""Checks of single values against the lists and shapes AWS validates.

Each returns ``None`` for a good value or the problem as text (with what is
allowed); the model wraps them with :func:`stackconfig.values.text`. A value
that depends on another key (an ARN's region, a version's support dates against
``extendedSupport``) is checked in :mod:`stackconfig.rules` instead.
"""

from __future__ import annotations

import re

from . import arns, cidrs, schedule, windows
from .aws_limits import ec2_instance_types, is_graviton, known_regions, rds_instance_classes
from .dated_tables import (
    EKS_VERSIONS,
    EKS_VERSIONS_AS_OF,
    EXCLUDED_ZONE_IDS,
    EXCLUDED_ZONE_IDS_AS_OF,
    POSTGRES_RESERVED_WORDS,
    RDS_POSTGRES,
    RDS_POSTGRES_AS_OF,
    RDS_POSTGRES_FAMILIES,
    RDS_POSTGRES_FAMILIES_AS_OF,
    REGION_ZONES,
    REGION_ZONES_AS_OF,
)
from .problems import did_you_mean, listing


def _problem(check) -> str | None:
    try:
        check()
    except ValueError as error:
        return str(error)
    return None


# -- names ------------------------------------------------------------------------------------------
def project_name(name: str) -> str | None:
    """The project name starts every physical name (``<project>-<stack>-...``), so it must suit the
    strictest of them: S3 buckets and ECR repositories (lowercase letters, digits, hyphens), RDS
    identifiers (a letter first, no two hyphens in a row, no hyphen last)."""
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name):
        return (
            "must be lowercase letters, digits and single hyphens, starting with a letter and not ending in a "
            "hyphen: it starts every AWS resource name (S3 buckets, RDS identifiers and ECR repositories allow "
            "nothing else)"
        )
    return None


def stack_name(name: str) -> str | None:
    """The stack name follows the project name in every physical name."""
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
        return (
            "must be lowercase letters, digits and single hyphens, not starting or ending with one: it is part of "
            "every AWS resource name (S3 buckets, RDS identifiers and ECR repositories allow nothing else)"
        )
    return None


def region(name: str) -> str | None:
    if name in REGION_ZONES:
        return None
    supported = listing(REGION_ZONES)
    if name in known_regions():
        return (
            f"not supported: its Availability Zones are not in stackconfig/dated_tables.py "
            f"({REGION_ZONES_AS_OF}); allowed: {supported}"
        )
    return f"not an AWS region;{did_you_mean(name, REGION_ZONES)} allowed: {supported}"


def _postgres_identifier(name: str, what: str, longest: int) -> str | None:
    if not re.fullmatch(rf"[a-z][a-z0-9_]{{0,{longest - 1}}}", name):
        return f"must be 1-{longest} lowercase letters, digits or underscores, starting with a letter ({what})"
    if name in POSTGRES_RESERVED_WORDS:
        return f"{name!r} is a PostgreSQL reserved word, which RDS refuses as a {what}"
    return None


def database_name(name: str) -> str | None:
    """RDS API reference, CreateDBInstance ``DBName`` for PostgreSQL: 1-63 letters, digits, underscores."""
    return _postgres_identifier(name, "database name", 63)


def master_username(name: str) -> str | None:
    """RDS API reference, CreateDBInstance ``MasterUsername``: 1-16 letters, digits, underscores."""
    return _postgres_identifier(name, "master user name", 16)


def cost_center(value: str) -> str | None:
    """A tag value (tagging user guide, "Tag naming limits"): letters, digits, spaces and _ . : / = + - @."""
    if not re.fullmatch(r"[\w .:/=+\-@]+", value):
        return "a tag value allows only letters, digits, spaces and _ . : / = + - @"
    return None


def email(address: str) -> str | None:
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not re.fullmatch(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+", local)
        or not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", domain)
    ):
        return "must be an e-mail address such as ops@example.com"
    return None


# -- lists AWS validates ------------------------------------------------------------------------
def instance_type(name: str) -> str | None:
    """An EC2 instance type, from botocore's EC2 model."""
    known = ec2_instance_types()
    if name in known:
        return None
    family = name.partition(".")[0]
    sizes = sorted((t.partition(".")[2] for t in known if t.startswith(family + ".")), key=_size_order)
    if sizes:
        return f"not an EC2 instance type; allowed {family} sizes: {listing(sizes)}"
    return f"not an EC2 instance type;{did_you_mean(name, known)} (botocore's EC2 model lists every type)"


def graviton_instance_type(name: str) -> str | None:
    problem = instance_type(name)
    if problem is None and not is_graviton(name):
        return "must be a Graviton (arm64) type such as t4g.nano: the NAT instance boots the arm64 Amazon Linux image"
    return problem


def rds_instance_class(name: str) -> str | None:
    """An RDS for PostgreSQL class: a family of ``dated_tables.RDS_POSTGRES_FAMILIES`` in an EC2 size RDS offers."""
    known = rds_instance_classes()
    if name in known:
        return None
    if f"db.{name}" in known:
        return f"RDS instance classes start with db.: did you mean 'db.{name}'?"
    family = name.removeprefix("db.").partition(".")[0]
    sizes = sorted((c.split(".")[2] for c in known if c.startswith(f"db.{family}.")), key=_size_order)
    if sizes:
        return f"not an RDS for PostgreSQL instance class; allowed db.{family} sizes: {listing(sizes)}"
    return (
        f"not an RDS for PostgreSQL instance class;{did_you_mean(name, known)} allowed: db.<family>.<size> with "
        f"families ({RDS_POSTGRES_FAMILIES_AS_OF}) {listing(RDS_POSTGRES_FAMILIES)}"
    )


def _size_order(size: str) -> tuple[int, int]:
    named = ("nano", "micro", "small", "medium", "large", "xlarge")
    if size in named:
        return (named.index(size), 0)
    digits = re.match(r"\d+", size)
    return (len(named), int(digits.group()) if digits else 10_000)


def engine_version(version: str) -> str | None:
    """A PostgreSQL major (RDS picks the minor) or a creatable minor, from ``dated_tables.RDS_POSTGRES``."""
    major = version.partition(".")[0]
    if major in RDS_POSTGRES and (version == major or version in RDS_POSTGRES[major][1]):
        return None
    allowed = ", ".join(
        f"{m}" + (f" or {minors[0]}-{minors[-1]}" if minors else "") for m, (_, minors) in RDS_POSTGRES.items()
    )
    return f"not an RDS for PostgreSQL version ({RDS_POSTGRES_AS_OF}); allowed: {allowed}"


def kubernetes_version(version: str) -> str | None:
    """An EKS version in standard support on the table's date (the mesh's upgrade policy is STANDARD)."""
    supported = [v for v, (standard_end, _) in EKS_VERSIONS.items() if standard_end > EKS_VERSIONS_AS_OF]
    if version in supported:
        return None
    if version in EKS_VERSIONS:
        standard_end, _ = EKS_VERSIONS[version]
        return (
            f"left EKS standard support on {standard_end}; extended support costs six times as much per cluster-hour "
            f"and the cluster's upgrade policy is STANDARD; allowed: {listing(supported)}"
        )
    return f"not an EKS Kubernetes version (release calendar, {EKS_VERSIONS_AS_OF}); allowed: {listing(supported)}"


# -- shapes -------------------------------------------------------------------------------------------
def vpc_cidr(text: str) -> str | None:
    def check() -> None:
        network = cidrs.parse(text)
        cidrs.check_prefix(network, cidrs.VPC_PREFIXES, "a VPC")
        cidrs.check_private_use(network)

    return _problem(check)


def subnet_cidr(text: str) -> str | None:
    return _problem(lambda: cidrs.check_prefix(cidrs.parse(text), cidrs.SUBNET_PREFIXES, "a subnet"))


def any_cidr(text: str) -> str | None:
    return _problem(lambda: cidrs.parse(text))


# The words of a region name as they appear in its zone IDs: us-east-1 -> use1, ap-northeast-1 ->
# apne1, us-gov-west-1 -> usgw1.
_ZONE_ID_WORDS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "gov": "g",
}


def zone_id_prefix(region_name: str) -> str | None:
    """The region code that starts every zone ID of ``region_name``; None where it cannot be derived."""
    first, *words, number = region_name.split("-")
    if not number.isdigit() or any(word not in _ZONE_ID_WORDS for word in words):
        return None
    return first + "".join(_ZONE_ID_WORDS[word] for word in words) + number


def zone_id(text: str) -> str | None:
    if not re.fullmatch(r"[a-z]+[0-9]+-az[0-9]{1,2}", text):
        return "must be an Availability Zone ID: <region-code>-az<N>, e.g. use1-az1"
    if text in EXCLUDED_ZONE_IDS:
        return f"excluded: {EXCLUDED_ZONE_IDS[text]} (stackconfig/dated_tables.py, {EXCLUDED_ZONE_IDS_AS_OF})"
    return None


def vpc_id(text: str) -> str | None:
    if not re.fullmatch(r"vpc-([0-9a-f]{8}|[0-9a-f]{17})", text):
        return "must be a VPC id: vpc- and 8 or 17 lowercase hex digits"
    return None


_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def dns_name(name: str) -> str | None:
    """Route 53 and ACM: at most 253 characters, labels of 1-63 letters, digits and '-' (not at either
    end), at least two labels; written in lowercase without the trailing dot, as Route 53 reports it."""
    labels = name.split(".")
    if len(labels) < 2 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        return (
            "must be a DNS name such as api.example.com: two or more labels of 1 to 63 lowercase letters, digits "
            "and '-' (not first or last), joined by '.', without a trailing dot"
        )
    return None


def certificate_arn(text: str) -> str | None:
    return _problem(lambda: arns.certificate(text))


def role_arn(text: str) -> str | None:
    return _problem(lambda: arns.role(text))


def secret_reference(text: str) -> str | None:
    return _problem(lambda: arns.secret_reference(text))


def schedule_expression(text: str) -> str | None:
    def check() -> None:
        if schedule.parse(text).kind == "at":
            raise ValueError(
                "at() runs once; the scheduler feeds the queue on a recurring schedule: use rate() or cron()"
            )

    return _problem(check)


def backup_window(text: str) -> str | None:
    return _problem(lambda: windows.daily(text))


def maintenance_window(text: str) -> str | None:
    return _problem(lambda: windows.weekly(text))


def health_check_path(path: str) -> str | None:
    """ELB API reference, ``HealthCheckPath``: 1-1024 characters; a path starting with '/'."""
    if not path.startswith("/") or not re.fullmatch(r"[\x21-\x7e]+", path):
        return "must be a URL path starting with '/', without spaces"
    return None


def http_path(path: str) -> str | None:
    if not path.startswith("/") or not re.fullmatch(r"[\x21-\x7e]+", path):
        return "must be a URL path starting with '/', without spaces"
    return None


def environment_variable(name: str) -> str | None:
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
        return "must be an environment variable name: capital letters, digits and '_', not starting with a digit"
    return None


# -- uploads and e-mail ---------------------------------------------------------------------------
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{4,253}}$)({_LABEL}\.)+[a-z]{{2,63}}")


def mail_domain(name: str) -> str | None:
    """A fully qualified domain name in lowercase, without a trailing dot (RFC 1035 labels)."""
    if not _DOMAIN.fullmatch(name):
        return "must be a domain name such as example.com: lowercase labels of letters, digits and '-', no trailing dot"
    return None


def dns_label(name: str) -> str | None:
    if not re.fullmatch(_LABEL, name):
        return "must be one DNS label: lowercase letters, digits and '-', at most 63, not starting or ending with '-'"
    return None


def https_origin(origin: str) -> str | None:
    """A browser origin (scheme, host, optional port; no path) that serves over HTTPS."""
    match = re.fullmatch(rf"https://(?:{_LABEL}\.)*{_LABEL}(?::(?P<port>[1-9][0-9]{{0,4}}))?", origin)
    if not match:
        return "must be an https origin such as https://app.example.com (no path, no trailing '/', lowercase)"
    if match.group("port") and int(match.group("port")) > 65535:
        return "has a port above 65535"
    return None


def https_url(url: str) -> str | None:
    """An https URL with a host and a path, as SNS subscribes an endpoint."""
    if not re.fullmatch(rf"https://(?:{_LABEL}\.)+[a-z]{{2,63}}(:[1-9][0-9]{{0,4}})?/[\x21-\x7e]*", url):
        return "must be an https URL such as https://api.example.com/webhooks/ses (a public host name, no spaces)"
    return None


def hosted_zone_id(text: str) -> str | None:
    if not re.fullmatch(r"Z[A-Z0-9]{1,31}", text):
        return "must be a Route 53 hosted zone id: Z followed by capital letters and digits"
    return None


def key_prefix(text: str) -> str | None:
    """An S3 key prefix that IAM and lifecycle rules can name exactly: safe characters, ending in '/'."""
    if not re.fullmatch(r"([A-Za-z0-9!_.*'()-]+/)+", text) or "*" in text:
        return "must be an S3 key prefix such as uploads/: letters, digits and !_.'()- in segments, each ending in '/'"
    return None


def header_value(value: str) -> str | None:
    """An HTTP header value Istio matches exactly: visible ASCII and spaces, no leading or trailing space."""
    if value != value.strip() or not re.fullmatch(r"[\x20-\x7e]+", value):
        return "must be visible ASCII characters (inner spaces allowed), without leading or trailing spaces"
    return None
