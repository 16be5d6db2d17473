"""Pulumi mocks that answer like AWS would.

Under ``set_mocks`` nothing reaches AWS: every resource gets back its inputs
plus the outputs AWS computes (ARNs, ids, URLs, endpoints), shaped as the
provider returns them, so ``apply`` callbacks in the program see realistic
values. Invokes (lookups) return data shaped like a real account's.

Long because it is a table: one small function per AWS resource type whose computed outputs the
program reads, keyed by type token in one dispatch map.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pulumi

from stackconfig.checks import zone_id_prefix
from stackconfig.dated_tables import REGION_ZONES

ACCOUNT_ID = "123456789012"
DEFAULT_VPC_ID = "vpc-0d3fa017c0ffee000"
DEFAULT_VPC_CIDR = "172.31.0.0/16"


def fake_hex(seed: str, length: int = 17) -> str:
    """Deterministic hex digits, so previews of the same stack are identical."""
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def autoname(logical_name: str) -> str:
    """What Pulumi's auto-naming would call a resource: name plus 7 random hex."""
    return f"{logical_name}-{fake_hex(logical_name, 7)}"


# Token prefix -> (AWS id prefix, ARN service, ARN resource kind).
_ID_SHAPES: dict[str, tuple[str, str, str]] = {
    "aws:ec2/vpc:Vpc": ("vpc-", "ec2", "vpc"),
    "aws:ec2/subnet:Subnet": ("subnet-", "ec2", "subnet"),
    "aws:ec2/securityGroup:SecurityGroup": ("sg-", "ec2", "security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("sg-", "ec2", "security-group"),
    "aws:ec2/internetGateway:InternetGateway": ("igw-", "ec2", "internet-gateway"),
    "aws:ec2/natGateway:NatGateway": ("nat-", "ec2", "natgateway"),
    "aws:ec2/eip:Eip": ("eipalloc-", "ec2", "elastic-ip"),
    "aws:ec2/routeTable:RouteTable": ("rtb-", "ec2", "route-table"),
    "aws:ec2/instance:Instance": ("i-", "ec2", "instance"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpce-", "ec2", "vpc-endpoint"),
    "aws:ec2/flowLog:FlowLog": ("fl-", "ec2", "vpc-flow-log"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("sgr-", "ec2", "security-group-rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("sgr-", "ec2", "security-group-rule"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("lt-", "ec2", "launch-template"),
}


# Types AWS identifies by a random lowercase id of this length (API Gateway v2).
_GENERATED_IDS: dict[str, int] = {
    "aws:apigatewayv2/api:Api": 10,
    "aws:apigatewayv2/integration:Integration": 7,
    "aws:apigatewayv2/route:Route": 7,
}


def generated_id(token: str, logical_name: str) -> str:
    return fake_hex(token + logical_name, _GENERATED_IDS[token])


def _arn(service: str, kind: str, name: str, region: str) -> str:
    regionless = service in ("iam", "s3", "budgets")
    return f"arn:aws:{service}:{'' if regionless else region}:{'' if service == 's3' else ACCOUNT_ID}:{kind}/{name}"


def _service_of(token: str) -> str:
    # "aws:sqs/queue:Queue" -> "sqs"
    return token.split(":")[1].split("/")[0].lower() if token.startswith("aws:") else "mock"


class FlowbuilderMocks(pulumi.runtime.Mocks):
    """Mocks for every resource and lookup the program uses."""

    def __init__(self, region: str, stack_outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.region = region
        self.stack_outputs = stack_outputs or {}
        """What a StackReference reads: the outputs of each referenced stack, by its full name."""
        self._outputs: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "aws:sqs/queue:Queue": self._queue,
            "aws:ec2/instance:Instance": self._instance,
            "aws:ec2/eip:Eip": self._eip,
            "aws:ec2/vpc:Vpc": self._vpc,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:rds/instance:Instance": self._rds_instance,
            "aws:rds/parameterGroup:ParameterGroup": self._rds_parameter_group,
            "aws:secretsmanager/secret:Secret": self._secret,
            "aws:ecr/repository:Repository": self._repository,
            "aws:lb/loadBalancer:LoadBalancer": self._load_balancer,
            "aws:lb/targetGroup:TargetGroup": self._target_group,
            "aws:ecs/service:Service": self._ecs_service,
            "aws:cloudwatch/metricAlarm:MetricAlarm": self._metric_alarm,
            "aws:cloudwatch/eventRule:EventRule": self._event_rule,
            "aws:appautoscaling/policy:Policy": self._scaling_policy,
            "aws:s3/bucket:Bucket": self._bucket,
            "aws:eks/cluster:Cluster": self._eks_cluster,
            "aws:iam/openIdConnectProvider:OpenIdConnectProvider": self._oidc_provider,
            "aws:ec2/launchTemplate:LaunchTemplate": self._launch_template,
            "aws:kms/key:Key": self._kms_key,
            "aws:ecs/taskDefinition:TaskDefinition": self._task_definition,
            "aws:sfn/stateMachine:StateMachine": self._state_machine,
            "aws:pipes/pipe:Pipe": self._pipe,
            "aws:lambda/function:Function": self._lambda_function,
            "aws:scheduler/schedule:Schedule": self._schedule,
            "aws:sns/topic:Topic": self._sns_topic,
            "aws:cloudwatch/dashboard:Dashboard": self._dashboard,
            "aws:budgets/budget:Budget": self._budget,
            "aws:apigatewayv2/api:Api": self._http_api,
            "aws:apigatewayv2/stage:Stage": self._http_api_stage,
            "aws:apigatewayv2/domainName:DomainName": self._api_domain_name,
            "aws:acm/certificate:Certificate": self._certificate,
            "aws:route53/zone:Zone": self._hosted_zone,
            "aws:route53/record:Record": self._dns_record,
            "aws:wafv2/webAcl:WebAcl": self._web_acl,
            "aws:sesv2/emailIdentity:EmailIdentity": self._email_identity,
            "aws:sesv2/configurationSet:ConfigurationSet": self._configuration_set,
            "aws:cloudfront/distribution:Distribution": self._distribution,
            "aws:elasticache/serverlessCache:ServerlessCache": self._serverless_cache,
            "aws:elasticache/replicationGroup:ReplicationGroup": self._replication_group,
            "aws:elasticache/user:User": self._cache_user,
            "aws:backup/vault:Vault": self._backup_vault,
        }

    # -- resources ---------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        # A StackReference is read, not registered: it comes without the custom flag.
        if args.typ == "pulumi:pulumi:StackReference":
            referenced = state["name"]
            if referenced not in self.stack_outputs:
                raise KeyError(f"the simulation has no outputs of stack {referenced}")
            return referenced, {"name": referenced, "outputs": self.stack_outputs[referenced], "secretOutputNames": []}
        if not args.custom:
            return "", state
        if args.typ.startswith("kubernetes:"):
            return self._kubernetes(args.typ, args.name, state)
        if args.typ == "random:index/randomPassword:RandomPassword":
            # Stable per logical name, so previews of the same stack are identical.
            return args.name, {**state, "result": fake_hex("password" + args.name, 32), "bcryptHash": "$2a$10$mock"}
        prefix, service, kind = _ID_SHAPES.get(args.typ, ("", _service_of(args.typ), args.typ.split(":")[-1].lower()))
        name = state.get("name") or autoname(args.name)
        physical_id = f"{prefix}{fake_hex(args.typ + args.name)}" if prefix else name
        if args.typ in _GENERATED_IDS:
            physical_id = generated_id(args.typ, args.name)
        if "name" not in state and "namePrefix" not in state:
            state["name"] = name
        state.setdefault("arn", _arn(service, kind, physical_id, self.region))
        state.update(self._outputs.get(args.typ, lambda *_: {})(state, args.name))
        return physical_id, state

    def _queue(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        name = state["name"]
        return {
            "arn": f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{name}",
            "url": f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT_ID}/{name}",
        }

    def _instance(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        return {
            "primaryNetworkInterfaceId": f"eni-{fake_hex(logical)}",
            "privateIp": "10.0.0.10",
            "publicIp": "203.0.113.10" if state.get("associatePublicIpAddress") else "",
        }

    def _eip(self, _: dict[str, Any], logical: str) -> dict[str, Any]:
        return {"allocationId": f"eipalloc-{fake_hex(logical)}", "publicIp": "198.51.100.10"}

    def _vpc(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        return {
            "defaultSecurityGroupId": f"sg-{fake_hex('default' + logical)}",
            "mainRouteTableId": f"rtb-{fake_hex('main' + logical)}",
        }

    def _log_group(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{state['name']}"}

    def _repository(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {
            "arn": f"arn:aws:ecr:{self.region}:{ACCOUNT_ID}:repository/{state['name']}",
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{state['name']}",
            "registryId": ACCOUNT_ID,
        }

    def _rds_instance(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        identifier = state.get("identifier") or autoname(logical)
        address = f"{identifier}.{fake_hex('rds' + self.region, 12)}.{self.region}.rds.amazonaws.com"
        port = state.get("port") or 5432
        outputs = {
            "identifier": identifier,
            "address": address,
            "endpoint": f"{address}:{port}",
            "port": port,
            "arn": f"arn:aws:rds:{self.region}:{ACCOUNT_ID}:db:{identifier}",
            "resourceId": f"db-{fake_hex(identifier, 26).upper()}",
            "masterUserSecrets": [],
        }
        if state.get("manageMasterUserPassword"):
            # RDS names its managed secret rds!db-<uuid>; the ARN ends in 6 random characters.
            uuid = fake_hex(identifier, 32)
            uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
            secret = f"rds!db-{uuid}-{fake_hex(uuid, 6)}"
            outputs["masterUserSecrets"] = [
                {
                    "secretArn": f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:{secret}",
                    "secretStatus": "active",
                    "kmsKeyId": f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{fake_hex('aws/secretsmanager', 8)}",
                }
            ]
        return outputs

    def _serverless_cache(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        name = state["name"]
        address = f"{name}-{fake_hex(name, 6)}.serverless.use1.cache.amazonaws.com"
        return {
            "arn": f"arn:aws:elasticache:{self.region}:{ACCOUNT_ID}:serverlesscache:{name}",
            "endpoints": [{"address": address, "port": 6379}],
            "readerEndpoints": [{"address": address, "port": 6380}],
        }

    def _replication_group(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        group = state.get("replicationGroupId") or state["name"]
        return {
            "arn": f"arn:aws:elasticache:{self.region}:{ACCOUNT_ID}:replicationgroup:{group}",
            "primaryEndpointAddress": f"master.{group}.{fake_hex(group, 6)}.use1.cache.amazonaws.com",
        }

    def _cache_user(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:elasticache:{self.region}:{ACCOUNT_ID}:user:{state['userId']}"}

    def _backup_vault(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:backup:{self.region}:{ACCOUNT_ID}:backup-vault:{state['name']}"}

    def _rds_parameter_group(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:rds:{self.region}:{ACCOUNT_ID}:pg:{state['name']}"}

    def _secret(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        name = state["name"]
        return {"arn": f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:{name}-{fake_hex(name, 6)}"}

    def _task_definition(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        family = f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:task-definition/{state['family']}"
        return {"arn": f"{family}:1", "arnWithoutRevision": family, "revision": 1}

    def _state_machine(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:states:{self.region}:{ACCOUNT_ID}:stateMachine:{state['name']}", "status": "ACTIVE"}

    def _pipe(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {
            "arn": f"arn:aws:pipes:{self.region}:{ACCOUNT_ID}:pipe/{state['name']}",
            "desiredState": state.get("desiredState", "RUNNING"),
        }

    def _lambda_function(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{state['name']}"
        return {
            "arn": arn,
            "qualifiedArn": f"{arn}:$LATEST",
            "invokeArn": f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
            "version": "$LATEST",
        }

    def _sns_topic(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:sns:{self.region}:{ACCOUNT_ID}:{state['name']}", "owner": ACCOUNT_ID}

    def _dashboard(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        # Dashboards are global: no region in the ARN.
        return {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{state['dashboardName']}"}

    def _http_api(self, _: dict[str, Any], logical: str) -> dict[str, Any]:
        api_id = generated_id("aws:apigatewayv2/api:Api", logical)
        return {
            "arn": f"arn:aws:apigateway:{self.region}::/apis/{api_id}",
            "apiEndpoint": f"https://{api_id}.execute-api.{self.region}.amazonaws.com",
            "executionArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}",
        }

    def _http_api_stage(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        api_id, stage = state["apiId"], state["name"]
        # The $default stage is served at the API's root; any other under its name.
        path = "" if stage == "$default" else stage
        return {
            "arn": f"arn:aws:apigateway:{self.region}::/apis/{api_id}/stages/{stage}",
            "executionArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}/{stage}",
            "invokeUrl": f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{path}",
        }

    def _api_domain_name(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        host = state["domainName"]
        return {
            "arn": f"arn:aws:apigateway:{self.region}::/domainnames/{host}",
            "domainNameConfiguration": {
                **state["domainNameConfiguration"],
                "targetDomainName": f"d-{fake_hex(host, 10)}.execute-api.{self.region}.amazonaws.com",
                # API Gateway's regional hosted zone in us-east-1 (a fixed value per region).
                "hostedZoneId": "Z1UJRXOUMOOFQ8",
            },
        }

    def _certificate(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        digits = fake_hex("acm" + logical, 32)
        certificate_id = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
        host = state.get("domainName")
        # An imported or private certificate has no domain to validate.
        options = (
            [
                {
                    "domainName": host,
                    "resourceRecordName": f"_{fake_hex('name' + host, 32)}.{host}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{fake_hex('value' + host, 32)}.acm-validations.aws.",
                }
            ]
            if host
            else []
        )
        return {
            "arn": f"arn:aws:acm:{self.region}:{ACCOUNT_ID}:certificate/{certificate_id}",
            "domainValidationOptions": options,
            "status": "PENDING_VALIDATION",
        }

    def _hosted_zone(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        zone_id = "Z" + fake_hex("zone" + state["name"], 20).upper()
        return {
            "zoneId": zone_id,
            "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
            "nameServers": [f"ns-{n}.awsdns-{n % 64:02d}.{tld}" for n, tld in ((101, "com"), (602, "net"))]
            + [f"ns-{n}.awsdns-{n % 64:02d}.{tld}" for n, tld in ((1203, "org"), (1804, "co.uk"))],
        }

    def _dns_record(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"fqdn": str(state["name"]).rstrip(".")}

    def _web_acl(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        acl_id = fake_hex("webacl" + logical, 32)
        acl_id = f"{acl_id[:8]}-{acl_id[8:12]}-{acl_id[12:16]}-{acl_id[16:20]}-{acl_id[20:]}"
        return {
            "arn": f"arn:aws:wafv2:{self.region}:{ACCOUNT_ID}:regional/webacl/{state['name']}/{acl_id}",
            "capacity": 0,
        }

    def _budget(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:budgets::{ACCOUNT_ID}:budget/{state['name']}", "accountId": ACCOUNT_ID}

    def _schedule(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        group = state.get("groupName") or "default"
        return {
            "arn": f"arn:aws:scheduler:{self.region}:{ACCOUNT_ID}:schedule/{group}/{state['name']}",
            "groupName": group,
        }

    def _eks_cluster(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        name = state["name"]
        cluster_id = fake_hex("eks" + name, 32).upper()
        return {
            "arn": f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:cluster/{name}",
            "endpoint": f"https://{cluster_id}.gr7.{self.region}.eks.amazonaws.com",
            "certificateAuthority": {
                "data": base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n").decode()
            },
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/{cluster_id}"}]}],
            "vpcConfig": {
                **(state.get("vpcConfig") or {}),
                "clusterSecurityGroupId": f"sg-{fake_hex('eks-cluster' + name)}",
            },
            "platformVersion": "eks.1",
            "status": "ACTIVE",
        }

    def _oidc_provider(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{state['url'].removeprefix('https://')}"}

    def _launch_template(self, _: dict[str, Any], __: str) -> dict[str, Any]:
        return {"latestVersion": 1, "defaultVersion": 1}

    def _kms_key(self, _: dict[str, Any], logical: str) -> dict[str, Any]:
        digits = fake_hex("kms" + logical, 32)
        key_id = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
        return {"keyId": key_id, "arn": f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{key_id}"}

    def _kubernetes(self, token: str, logical: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Kubernetes objects are named by metadata (auto-named when unset); Helm releases report deployed."""
        if token == "kubernetes:helm.sh/v3:Release":
            name = state.get("name") or autoname(logical)
            namespace = state.get("namespace") or "default"
            status = {
                "name": name,
                "namespace": namespace,
                "chart": state.get("chart"),
                "version": state.get("version"),
            }
            return f"{namespace}/{name}", {
                **state,
                "name": name,
                "status": {**status, "revision": 1, "status": "deployed"},
            }
        metadata = dict(state.get("metadata") or {})
        metadata.setdefault("name", autoname(logical))
        metadata.setdefault("uid", fake_hex("uid" + logical, 32))
        namespace = metadata.get("namespace")
        return (f"{namespace}/{metadata['name']}" if namespace else metadata["name"]), {**state, "metadata": metadata}

    def _elb_arn(self, kind: str, name: str) -> dict[str, Any]:
        suffix = f"{kind}/{name}/{fake_hex(name, 16)}"
        resource = f"loadbalancer/{suffix}" if kind == "app" else suffix
        return {"arn": f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT_ID}:{resource}", "arnSuffix": suffix}

    def _load_balancer(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        name = state["name"]
        return {
            **self._elb_arn("app", name),
            "dnsName": f"{name}-{int(fake_hex(name, 8), 16) % 10**10}.{self.region}.elb.amazonaws.com",
            # The hosted zone of ALBs in us-east-1 (a fixed value per region).
            "zoneId": "Z35SXDOTRQ7X7K",
        }

    def _target_group(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return self._elb_arn("targetgroup", state["name"])

    def _ecs_service(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        cluster = str(state.get("cluster", "default")).rsplit("/", 1)[-1]
        return {"arn": f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:service/{cluster}/{state['name']}"}

    def _metric_alarm(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:cloudwatch:{self.region}:{ACCOUNT_ID}:alarm:{state['name']}"}

    def _event_rule(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        return {"arn": f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{state['name']}"}

    def _scaling_policy(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        uuid = fake_hex(logical, 32)
        return {
            "arn": (
                f"arn:aws:autoscaling:{self.region}:{ACCOUNT_ID}:scalingPolicy:{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-"
                f"{uuid[16:20]}-{uuid[20:]}:resource/{state['serviceNamespace']}/{state['resourceId']}"
                f":policyName/{state['name']}"
            ),
            "alarmArns": [],
        }

    def _email_identity(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        domain = state["emailIdentity"]
        # Easy DKIM's three selector tokens, stable per identity.
        tokens = [fake_hex(f"{domain}-dkim-{index}", 32) for index in range(3)]
        return {
            "arn": f"arn:aws:ses:{self.region}:{ACCOUNT_ID}:identity/{domain}",
            "identityType": "DOMAIN",
            "verifiedForSendingStatus": False,
            "dkimSigningAttributes": {
                **state.get("dkimSigningAttributes", {}),
                "tokens": tokens,
                "status": "PENDING",
                "signingAttributesOrigin": "AWS_SES",
            },
        }

    def _configuration_set(self, state: dict[str, Any], _: str) -> dict[str, Any]:
        name = state["configurationSetName"]
        return {"arn": f"arn:aws:ses:{self.region}:{ACCOUNT_ID}:configuration-set/{name}"}

    def _distribution(self, _: dict[str, Any], logical: str) -> dict[str, Any]:
        distribution_id = "E" + fake_hex("distribution" + logical, 13).upper()
        return {
            "arn": f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{distribution_id}",
            "domainName": f"d{fake_hex('cloudfront' + logical, 13)}.cloudfront.net",
            "hostedZoneId": "Z2FDTNDATAQYW2",
            "status": "Deployed",
        }

    def _bucket(self, state: dict[str, Any], logical: str) -> dict[str, Any]:
        bucket = state.get("bucket") or autoname(logical)
        return {
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{self.region}.amazonaws.com",
        }

    # -- invokes -----------------------------------------------------------
    # Which zone ID each zone name (a, b, c, ...) stands for, as one account might see it; the
    # names and IDs are made up, so nothing that validates config may read them.
    zone_numbers: tuple[int, ...] = (1, 2, 4, 5, 6, 3)

    def _zones(self) -> dict[str, Any]:
        # As many zones as the region really offers (stackconfig's dated table), so the
        # program's own zone check meets the count AWS would answer with.
        count = REGION_ZONES.get(self.region, 3)
        prefix = zone_id_prefix(self.region) or "zone1"
        return {
            "names": [f"{self.region}{letter}" for letter in "abcdef"[:count]],
            "zoneIds": [f"{prefix}-az{number}" for number in self.zone_numbers[:count]],
        }

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        answer = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._zones,
            "aws:index/getCallerIdentity:getCallerIdentity": lambda: {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/preview",
                "userId": "AIDAPREVIEW",
            },
            "aws:index/getRegion:getRegion": lambda: {"name": self.region, "region": self.region},
            "aws:index/getPartition:getPartition": lambda: {"partition": "aws", "dnsSuffix": "amazonaws.com"},
            "aws:ec2/getVpc:getVpc": lambda: {
                "id": args.args.get("id") or DEFAULT_VPC_ID,
                "cidrBlock": DEFAULT_VPC_CIDR,
                "default": not args.args.get("id"),
            },
            "aws:ec2/getSubnets:getSubnets": lambda: {
                "ids": [f"subnet-{fake_hex('default' + z)}" for z in "abc"],
            },
            "aws:ssm/getParameter:getParameter": lambda: {
                "name": args.args["name"],
                "value": f"ami-{fake_hex(args.args['name'])}",
                "type": "String",
            },
        }.get(args.token)
        if answer is None:
            raise NotImplementedError(f"the preview mocks do not answer {args.token}; add it to simulation/mocks.py")
        return answer(), []
