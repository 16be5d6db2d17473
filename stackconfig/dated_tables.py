"""Lists AWS validates against that no botocore model carries, each dated with its source.

A value outside a table is refused with the table's contents as "allowed: ...".
When AWS adds a version, a class or a region, add it here (and move the date);
the tables are deliberately static so a committed stack never starts failing
because a date passed.
"""

from __future__ import annotations

from datetime import date

# -- Availability Zones an account can use, per region ------------------------------------------
# As of 2026-04. Source: AWS documentation, "Regions and Availability Zones" (docs.aws.amazon.com/
# global-infrastructure/latest/regions/aws-regions.html) and `aws ec2 describe-availability-zones`
# in a new account: us-west-1 and ap-northeast-1 have a zone that new accounts cannot use, so they
# count as 2 and 3. The program spreads subnets over the first N zones the region offers.
REGION_ZONES_AS_OF = date(2026, 4, 1)
REGION_ZONES: dict[str, int] = {
    "us-east-1": 6,
    "us-east-2": 3,
    "us-west-1": 2,
    "us-west-2": 4,
    "af-south-1": 3,
    "ap-east-1": 3,
    "ap-east-2": 3,
    "ap-northeast-1": 3,
    "ap-northeast-2": 4,
    "ap-northeast-3": 3,
    "ap-south-1": 3,
    "ap-south-2": 3,
    "ap-southeast-1": 3,
    "ap-southeast-2": 3,
    "ap-southeast-3": 3,
    "ap-southeast-4": 3,
    "ap-southeast-5": 3,
    "ap-southeast-6": 3,
    "ap-southeast-7": 3,
    "ca-central-1": 3,
    "ca-west-1": 3,
    "eu-central-1": 3,
    "eu-central-2": 3,
    "eu-north-1": 3,
    "eu-south-1": 3,
    "eu-south-2": 3,
    "eu-west-1": 3,
    "eu-west-2": 3,
    "eu-west-3": 3,
    "il-central-1": 3,
    "me-central-1": 3,
    "me-south-1": 3,
    "mx-central-1": 3,
    "sa-east-1": 3,
    "us-gov-east-1": 3,
    "us-gov-west-1": 3,
    "cn-north-1": 3,
    "cn-northwest-1": 3,
    "eusc-de-east-1": 3,
}

# -- RDS for PostgreSQL engine versions -------------------------------------------------------
# As of 2026-05-01. Source: "Release calendars for Amazon RDS for PostgreSQL" (RDS for PostgreSQL
# release notes) and the RDS notice that minors 14.14-14.17, 15.9-15.12, 16.5-16.8 and 17.1-17.4
# can no longer be created from 2026-05-01. Major -> (end of RDS standard support, creatable minors).
# A bare major ("16") lets RDS pick its default minor and is always allowed for a listed major.
RDS_POSTGRES_AS_OF = date(2026, 5, 1)
RDS_POSTGRES: dict[str, tuple[date, tuple[str, ...]]] = {
    "13": (date(2026, 2, 28), ()),
    "14": (date(2027, 2, 28), ("14.18", "14.19", "14.20", "14.21")),
    "15": (date(2028, 2, 29), ("15.13", "15.14", "15.15", "15.16")),
    "16": (date(2029, 2, 28), ("16.9", "16.10", "16.11", "16.12")),
    "17": (date(2030, 2, 28), ("17.5", "17.6", "17.7", "17.8")),
    "18": (date(2031, 2, 28), ("18.1", "18.2")),
}

# -- RDS for PostgreSQL instance classes -------------------------------------------------------
# As of 2026-05. Source: RDS user guide, "Supported DB engines for DB instance classes" (the
# PostgreSQL column). Families here; the sizes of each come from the EC2 model's InstanceType list
# (botocore), less what RDS does not offer: nano, metal, and below large outside the burstable
# families (see ``aws_limits.rds_instance_classes``).
RDS_POSTGRES_FAMILIES_AS_OF = date(2026, 5, 1)
RDS_POSTGRES_BURSTABLE_FAMILIES = ("t3", "t4g")
RDS_POSTGRES_FAMILIES = (
    "t3",
    "t4g",
    "m5",
    "m5d",
    "m6g",
    "m6gd",
    "m6i",
    "m6id",
    "m6idn",
    "m6in",
    "m7g",
    "m7i",
    "m8g",
    "r5",
    "r5b",
    "r5d",
    "r6g",
    "r6gd",
    "r6i",
    "r6id",
    "r6idn",
    "r6in",
    "r7g",
    "r7i",
    "r8g",
    "x2g",
)

# -- EKS Kubernetes versions --------------------------------------------------------------------
# As of 2026-04-24. Source: EKS user guide, "Understand the Kubernetes version lifecycle on EKS"
# (release calendar). Version -> (end of standard support, end of extended support). The mesh
# uses the STANDARD upgrade policy, so only versions still in standard support on this table's
# date are allowed; the others are listed to say why they are refused.
EKS_VERSIONS_AS_OF = date(2026, 4, 24)
EKS_VERSIONS: dict[str, tuple[date, date]] = {
    "1.29": (date(2025, 3, 23), date(2026, 3, 23)),
    "1.30": (date(2025, 7, 23), date(2026, 7, 23)),
    "1.31": (date(2025, 11, 26), date(2026, 11, 26)),
    "1.32": (date(2026, 3, 23), date(2027, 3, 23)),
    "1.33": (date(2026, 7, 29), date(2027, 7, 29)),
    "1.34": (date(2026, 12, 2), date(2027, 12, 2)),
    "1.35": (date(2027, 3, 27), date(2028, 3, 27)),
}

# -- EKS add-on versions -------------------------------------------------------------------------
# As of 2026-11-02. Source: `aws eks describe-addon-versions --kubernetes-version <v>` (the version
# EKS lists as compatible and current for each add-on). The cluster installs exactly these, so a
# review sees an add-on change; a Kubernetes version without a row here is refused until it has one.
EKS_ADDONS_AS_OF = date(2026, 11, 2)
EKS_ADDONS: dict[str, dict[str, str]] = {
    "1.35": {
        "vpc-cni": "v1.21.1-eksbuild.3",
        "kube-proxy": "v1.35.0-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
        "coredns": "v1.13.2-eksbuild.1",
        "aws-ebs-csi-driver": "v1.57.1-eksbuild.1",
    },
}

# -- PostgreSQL reserved key words --------------------------------------------------------------
# RDS refuses a database name or master user name that is a reserved word of the engine.
# Source: PostgreSQL 18 documentation, Appendix C "SQL Key Words", the words marked "reserved"
# (plus "requires AS") in the PostgreSQL column; RDS's own user "rdsadmin" added.
POSTGRES_RESERVED_WORDS = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization binary both case cast check
    collate collation column concurrently constraint create cross current_catalog current_date
    current_role current_schema current_time current_timestamp current_user default deferrable desc
    distinct do else end except false fetch for foreign freeze from full grant group having ilike in
    initially inner intersect into is isnull join lateral leading left like limit localtime
    localtimestamp natural not notnull null offset on only or order outer overlaps placing primary
    references returning right select session_user similar some symmetric system_user table tablesample
    then to trailing true union unique user using variadic verbose when where window with
    rdsadmin""".split()
)

# -- Availability Zones the program never places subnets in -----------------------------------
# As of 2026-04. Source: EKS user guide, "View Amazon EKS networking requirements for VPC and
# subnets" (cluster subnets "can't be in" these zones; EKS refuses them with
# UnsupportedAvailabilityZoneException), and the EC2 instance-type offerings of those zones, which
# lack the newer Graviton families. Zone IDs, not names: a name maps to a different zone in every
# account. The network spreads over the region's other zones, and a pinned list may not name these.
EXCLUDED_ZONE_IDS_AS_OF = date(2026, 4, 1)
EXCLUDED_ZONE_IDS: dict[str, str] = {
    "use1-az3": "EKS does not offer it and it lacks the newer Graviton instance types",
    "usw1-az2": "EKS does not offer it",
    "cac1-az3": "EKS does not offer it",
}
