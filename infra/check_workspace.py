#!/usr/bin/env python3
"""Cross-checks template.yaml against the Cargo workspace and the events/ fixtures.

cfn-lint and `sam validate` check the template on its own; this checks what they cannot see:

  (a) every AWS::Serverless::Function builds a binary that exists: Metadata.BuildProperties.Binary
      names a package under functions/*/Cargo.toml (package name == binary name);
  (b) every package under functions/ (except the local dev server) is deployed by the template;
  (c) events/<dir> names a function binary; every HttpApi route, DynamoDB stream event and
      schedule (ScheduleV2) event and WebSocket route of the template has at least one fixture,
      and every HTTP fixture's routeKey is a route of its function;
  (d) every fixture is one of: an API Gateway HTTP API payload format 2.0 event that agrees with
      itself (routeKey, requestContext, rawPath, method); a WebSocket API event (eventType
      CONNECT, DISCONNECT or MESSAGE) of a route whose integration is its function; an
      authorizer event (see (f)); a
      DynamoDB stream event (`Records`) of a function with a DynamoDB event, each record well
      formed, of the stream view type the table declares, and passing that event's FilterCriteria
      (e.g. its pk prefix), else the function would never see it; or, for a function with a
      schedule, exactly the JSON Input of one of its schedules (what the function receives);
  (e) the SAM transform's output (run locally with samtranslator, when installed) keeps the CORS
      settings whole and creates no implicit API. An intrinsic on CorsConfiguration.AllowOrigins
      alone makes SAM drop every other CORS setting; only the transformed template shows it.
  (f) edge authorization: the HttpApi's DefaultAuthorizer is one of its Lambda authorizers, built
      by a template function; the routes marked `Auth: {Authorizer: NONE}` are exactly the paths
      of PUBLIC_PATHS in shared/src/http/edge.rs (what the local server leaves unguarded), and
      authorizer fixtures (events of type REQUEST) are for protected routes.
  (g) stream and schedule events: a DynamoDB event reads the stream of a template table that
      declares one (StreamSpecification), reports per-record failures (FunctionResponseTypes
      ReportBatchItemFailures: the handler answers batchItemFailures, which Lambda otherwise
      takes as a success) and has JSON filter patterns; a schedule's Input is literal JSON
      without `Records` (the handler would take it for a stream batch).

Usage: python3 infra/check_workspace.py [--root REPO_DIR] [--require-transform]
Exits 1 with one line per problem. Needs Python 3.11+ and either cfn-lint (its template loader)
or PyYAML; (e) needs aws-sam-translator. infra/check-template.sh runs it inside .venv-sam, which
has all three, with --require-transform.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

# Packages under functions/ that are not Lambda functions.
NOT_DEPLOYED = {"carpool-local"}  # functions/local: the whole backend on one port, for dev.

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}


def load_template(path: Path) -> dict:
    """Loads a CloudFormation template, short-form tags (!Ref, !Sub ...) included."""
    try:
        from cfnlint.decode import decode
    except ImportError:
        decode = None
    if decode is not None:
        template, problems = decode(str(path))
        if problems or template is None:
            raise SystemExit(f"FAIL cannot parse {path}: " + "; ".join(str(p) for p in problems))
        return template

    try:
        import yaml
    except ImportError:
        raise SystemExit("FAIL need cfn-lint or PyYAML: run with .venv-test/bin/python") from None

    class CfnLoader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    CfnLoader.add_multi_constructor("!", tag)
    with path.open() as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)


def cargo_binaries(root: Path) -> dict[str, Path]:
    """Binary name -> Cargo.toml, for the packages under functions/."""
    binaries: dict[str, Path] = {}
    for manifest in sorted(root.glob("functions/*/Cargo.toml")):
        with manifest.open("rb") as f:
            cargo = tomllib.load(f)
        name = cargo.get("package", {}).get("name")
        if not name:
            raise SystemExit(f"FAIL {manifest.relative_to(root)} has no package.name")
        # cargo-lambda's --bin picks a binary target. Explicit [[bin]] targets win; otherwise
        # src/main.rs is a binary named after the package.
        names = [b["name"] for b in cargo.get("bin", []) if "name" in b]
        if not names and (manifest.parent / "src" / "main.rs").exists():
            names = [name]
        for bin_name in names or [name]:
            binaries[bin_name] = manifest
    return binaries


def route_regex(path: str) -> re.Pattern[str]:
    """A concrete path matching an API Gateway route path ({id}, {proxy+})."""
    parts = re.split(r"(\{[^}]+\})", path)
    out = []
    for part in parts:
        if part.startswith("{") and part.endswith("+}"):
            out.append(r".+")
        elif part.startswith("{"):
            out.append(r"[^/]+")
        else:
            out.append(re.escape(part))
    return re.compile("^" + "".join(out) + "$")


def public_paths(root: Path) -> set[str]:
    """The paths of PUBLIC_PATHS in shared/src/http/edge.rs."""
    source = (root / "shared/src/http/edge.rs").read_text()
    found = re.search(r"PUBLIC_PATHS: \[&str; \d+\] = \[(.*?)\];", source, re.S)
    if not found:
        raise SystemExit("FAIL shared/src/http/edge.rs: PUBLIC_PATHS not found")
    return set(re.findall(r'"([^"]+)"', found.group(1)))


def check_authorizers(root, resources, fn_binary, route_owner, public_routes, errors) -> set[str]:
    """(f): returns the binaries that serve as Lambda authorizers."""
    binaries: set[str] = set()
    for logical_id, res in resources.items():
        if res.get("Type") != "AWS::Serverless::HttpApi":
            continue
        auth = (res.get("Properties") or {}).get("Auth") or {}
        authorizers = auth.get("Authorizers") or {}
        default = auth.get("DefaultAuthorizer")
        if default not in authorizers:
            errors.append(f"{logical_id}: DefaultAuthorizer {default!r} is not one of its Authorizers")
        for name, authorizer in authorizers.items():
            arn = authorizer.get("FunctionArn")
            target = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
            if not (isinstance(target, list) and target[0] in fn_binary and target[1] == "Arn"):
                errors.append(f"{logical_id}.{name}: FunctionArn must be !GetAtt <template function>.Arn")
                continue
            binaries.add(fn_binary[target[0]])
            if not authorizer.get("EnableFunctionDefaultPermissions"):
                errors.append(f"{logical_id}.{name}: API Gateway may not invoke it (EnableFunctionDefaultPermissions)")
    expected = public_paths(root)
    marked = {key.split(" ", 1)[1] for key in public_routes}
    for path in sorted(expected - marked):
        errors.append(f"{path} is public in edge.rs but its route is not `Auth: {{Authorizer: NONE}}`")
    for path in sorted(marked - expected):
        errors.append(f"{path} has `Authorizer: NONE` but is not in edge.rs PUBLIC_PATHS")
    print(
        f"checked edge authorization: {len(public_routes)} public and "
        f"{len(route_owner) - len(public_routes)} protected routes, authorizers {sorted(binaries)}"
    )
    return binaries


def check_authorizer_fixture(rel, event, binary, authorizer_binaries, route_owner, public_routes, errors) -> None:
    """An HTTP API Lambda authorizer event (payload 2.0) for a protected route."""
    if binary not in authorizer_binaries:
        errors.append(f"{rel}: a REQUEST authorizer event, but {binary!r} is no authorizer of the API")
    route_key = event.get("routeKey")
    if route_key not in route_owner:
        errors.append(f"{rel}: routeKey {route_key!r} is not a route of the API")
    elif route_key in public_routes:
        errors.append(f"{rel}: routeKey {route_key!r} is public: the authorizer never sees it")
    if (event.get("requestContext") or {}).get("routeKey") != route_key:
        errors.append(f"{rel}: requestContext.routeKey differs from routeKey")
    if not isinstance(event.get("identitySource"), list):
        errors.append(f"{rel}: identitySource must be the list of identity values")


STREAM_EVENT_NAMES = {"INSERT", "MODIFY", "REMOVE"}
STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:dynamodb:([a-z0-9-]+):\d{12}:table/[A-Za-z0-9_.-]+/stream/\S+$")
SCHEDULE_TYPES = {"ScheduleV2", "Schedule"}


def filter_matches(pattern, value, where: str, errors: list[str]) -> bool:
    """Whether `value` passes a Lambda event filter `pattern` (the subset we use: nested objects
    whose leaves are lists of literals, {"prefix": ...} or {"exists": ...})."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, sub in pattern.items():
            if isinstance(sub, list) and any(isinstance(c, dict) and c.get("exists") is False for c in sub):
                if key in value:
                    return False
                continue
            if key not in value or not filter_matches(sub, value[key], f"{where}.{key}", errors):
                return False
        return True
    if isinstance(pattern, list):
        for condition in pattern:
            if isinstance(condition, dict):
                if set(condition) == {"prefix"}:
                    if isinstance(value, str) and value.startswith(condition["prefix"]):
                        return True
                elif set(condition) == {"exists"}:
                    if condition["exists"] is True:
                        return True
                else:
                    errors.append(f"{where}: filter operator {condition} is not understood by this check")
            elif condition == value:
                return True
        return False
    errors.append(f"{where}: filter pattern leaves must be lists")
    return False


def check_stream_event(logical_id, event_id, props, resources, errors) -> tuple[str | None, list]:
    """(g) for one DynamoDB event: returns the table's stream view type and the filter patterns."""
    name = f"{logical_id}.{event_id}"
    stream = props.get("Stream")
    target = stream.get("Fn::GetAtt") if isinstance(stream, dict) else None
    if isinstance(target, str):
        target = target.split(".", 1)
    view_type = None
    if not (isinstance(target, list) and len(target) == 2 and target[1] == "StreamArn"):
        errors.append(f"{name}: Stream must be !GetAtt <template table>.StreamArn")
    else:
        table = resources.get(target[0]) or {}
        spec = (table.get("Properties") or {}).get("StreamSpecification") or {}
        if table.get("Type") != "AWS::DynamoDB::Table" or not spec.get("StreamViewType"):
            errors.append(f"{name}: {target[0]} is no template table with a StreamSpecification")
        else:
            view_type = spec["StreamViewType"]
    if "ReportBatchItemFailures" not in (props.get("FunctionResponseTypes") or []):
        errors.append(
            f"{name}: FunctionResponseTypes lacks ReportBatchItemFailures (the handler answers "
            "batchItemFailures; without it Lambda takes a failed record for a success)"
        )
    patterns = []
    for i, f in enumerate(((props.get("FilterCriteria") or {}).get("Filters")) or []):
        try:
            patterns.append(json.loads(f.get("Pattern")))
        except (TypeError, json.JSONDecodeError) as e:
            errors.append(f"{name}: FilterCriteria.Filters[{i}].Pattern is not literal JSON ({e})")
    return view_type, patterns


def check_stream_fixture(rel, event, binary, streams, errors) -> set[str]:
    """(d) for a DynamoDB stream fixture; returns the stream events whose filters let it all in."""
    if binary not in streams:
        errors.append(f"{rel}: a DynamoDB stream event, but {binary!r} has no DynamoDB event in template.yaml")
        return set()
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        errors.append(f"{rel}: Records must be a non-empty list")
        return set()
    passing = set(streams[binary])
    for i, record in enumerate(records):
        where = f"{rel}: Records[{i}]"
        if not isinstance(record, dict):
            errors.append(f"{where} is not an object")
            return set()
        if record.get("eventSource") != "aws:dynamodb":
            errors.append(f"{where}.eventSource is not aws:dynamodb")
        if record.get("eventName") not in STREAM_EVENT_NAMES:
            errors.append(f"{where}.eventName {record.get('eventName')!r} is none of {sorted(STREAM_EVENT_NAMES)}")
        for field in ("eventID", "eventVersion"):
            if not isinstance(record.get(field), str):
                errors.append(f"{where}.{field} missing")
        arn = STREAM_ARN.match(str(record.get("eventSourceARN")))
        if not arn:
            errors.append(f"{where}.eventSourceARN {record.get('eventSourceARN')!r} is no table stream ARN")
        elif record.get("awsRegion") != arn.group(1):
            errors.append(f"{where}.awsRegion differs from the eventSourceARN's region")
        ddb = record.get("dynamodb")
        if not isinstance(ddb, dict):
            errors.append(f"{where}.dynamodb missing")
            return set()
        keys = ddb.get("Keys") or {}
        if not all(isinstance((keys.get(k) or {}).get("S"), str) for k in ("pk", "sk")):
            errors.append(f"{where}.dynamodb.Keys must hold pk and sk strings ({{\"S\": ...}})")
        if not str(ddb.get("SequenceNumber", "")).isdigit():
            errors.append(f"{where}.dynamodb.SequenceNumber must be a string of digits")
        for field in ("ApproximateCreationDateTime", "SizeBytes"):
            if not isinstance(ddb.get(field), (int, float)):
                errors.append(f"{where}.dynamodb.{field} must be a number")
        for name, (view_type, patterns) in streams[binary].items():
            if view_type and ddb.get("StreamViewType") != view_type:
                errors.append(f"{where}.dynamodb.StreamViewType is not {view_type}, the table's ({name})")
            if patterns and not any(filter_matches(p, record, name, errors) for p in patterns):
                passing.discard(name)
    if not passing:
        errors.append(
            f"{rel}: a record does not pass the FilterCriteria of {', '.join(sorted(streams[binary]))}: "
            "Lambda would never deliver it"
        )
    return passing


SOCKET_EVENTS = {"CONNECT", "DISCONNECT", "MESSAGE"}


def websocket_routes(resources, fn_binary, errors) -> dict[str, str]:
    """Route key -> binary, for the routes of the template's WEBSOCKET APIs. Each route targets
    `integrations/<Integration>` of its own API, an AWS_PROXY integration of a template function."""
    apis = {k for k, r in resources.items()
            if r.get("Type") == "AWS::ApiGatewayV2::Api" and (r.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"}
    out: dict[str, str] = {}
    for logical_id, res in resources.items():
        if res.get("Type") != "AWS::ApiGatewayV2::Route":
            continue
        props = res.get("Properties") or {}
        if (props.get("ApiId") or {}).get("Ref") not in apis:
            continue
        target = (props.get("Target") or {}).get("Fn::Sub", "")
        match = re.fullmatch(r"integrations/\$\{(\w+)\}", target if isinstance(target, str) else "")
        integration = resources.get(match.group(1)) if match else None
        uri = ((integration or {}).get("Properties") or {}).get("IntegrationUri") or {}
        uri = uri.get("Fn::Sub", "") if isinstance(uri, dict) else ""
        function = re.search(r"\$\{(\w+)\.Arn\}", uri if isinstance(uri, str) else "")
        binary = fn_binary.get(function.group(1)) if function else None
        if binary is None:
            errors.append(f"{logical_id}: Target is not integrations/${{<an integration of a template function>}}")
            continue
        out[props.get("RouteKey")] = binary
    return out


def check_socket_fixture(rel, event, binary, socket_routes, errors) -> set[str]:
    """(d) for a WebSocket API event: a route of that binary, with a connection id, headers on
    `$connect` (where the cookie is) and a string body on a message."""
    ctx = event["requestContext"]
    route = ctx.get("routeKey")
    if socket_routes.get(route) != binary:
        errors.append(f"{rel}: routeKey {route!r} is not a WebSocket route of {binary!r}")
        return set()
    if not ctx.get("connectionId"):
        errors.append(f"{rel}: requestContext.connectionId missing")
    expected = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    if ctx.get("eventType") != expected:
        errors.append(f"{rel}: eventType {ctx.get('eventType')!r} on route {route} (expected {expected})")
    if expected == "CONNECT" and not isinstance(event.get("headers"), dict):
        errors.append(f"{rel}: a $connect event carries the handshake's headers")
    if expected == "MESSAGE" and not isinstance(event.get("body"), str):
        errors.append(f"{rel}: a message event's body is the frame, a string")
    return {route}


def check_transformed(root: Path, errors: list[str]) -> bool:
    """(e): runs the SAM transform offline; False when samtranslator is not installed."""
    try:
        from samtranslator.translator.transform import transform
        from samtranslator.yaml_helper import yaml_parse
    except ImportError:
        return False
    import os

    class NoManagedPolicies:  # policies are inline statements: nothing to look up in IAM
        def load(self) -> dict:
            return {}

    template = yaml_parse((root / "template.yaml").read_text())
    for res in template.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            # `sam build` swaps local CodeUris for S3 ones; the transform insists on those.
            res.setdefault("Properties", {})["CodeUri"] = "s3://placeholder/code.zip"
    # The transform reads the region for pseudo parameters only; it makes no AWS calls.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        output = transform(template, {}, NoManagedPolicies())
    except Exception as e:  # noqa: BLE001 (the translator raises many types; report them all)
        errors.append(f"SAM transform failed: {e}")
        return True

    def cors_ok(value) -> bool:
        if isinstance(value, dict) and "allowOrigins" in value:
            return True
        if isinstance(value, dict) and list(value) == ["Fn::If"] and len(value["Fn::If"]) == 3:
            _, then, otherwise = value["Fn::If"]
            return all(cors_ok(v) or v == {"Ref": "AWS::NoValue"} for v in (then, otherwise))
        return False

    before, apis = len(errors), 0
    for logical_id, res in output.get("Resources", {}).items():
        if res.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        apis += 1
        if logical_id == "ServerlessHttpApi":
            errors.append("SAM created the implicit ServerlessHttpApi: an HttpApi event lacks ApiId")
        body = (res.get("Properties") or {}).get("Body") or {}
        if "x-amazon-apigateway-cors" in body and not cors_ok(body["x-amazon-apigateway-cors"]):
            errors.append(
                f"{logical_id}: transformed CORS is {json.dumps(body['x-amazon-apigateway-cors'])}, "
                "not a CORS object: SAM dropped the CorsConfiguration settings (wrap the whole "
                "CorsConfiguration in !If instead of using an intrinsic on AllowOrigins alone)"
            )
    verdict = "ok" if len(errors) == before else "problems below"
    print(f"checked the SAM transform output: {apis} HTTP API(s), CORS and ApiIds ({verdict})")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument(
        "--require-transform",
        action="store_true",
        help="fail instead of skipping (e) when aws-sam-translator is not installed",
    )
    args = parser.parse_args()
    root = args.root.resolve()
    errors: list[str] = []

    template = load_template(root / "template.yaml")
    resources = template.get("Resources", {})
    http_apis = {k for k, r in resources.items() if r.get("Type") == "AWS::Serverless::HttpApi"}

    # ---- template side: binary and routes per function
    fn_binary: dict[str, str] = {}  # logical id -> binary
    routes: dict[str, set[str]] = {}  # binary -> {"POST /api/..."}
    route_owner: dict[str, str] = {}  # "POST /api/..." -> logical id
    public_routes: set[str] = set()  # routes with Auth.Authorizer NONE
    streams: dict[str, dict[str, tuple]] = {}  # binary -> {event: (stream view type, filter patterns)}
    schedules: dict[str, dict] = {}  # binary -> {event: Input (parsed)}
    for logical_id, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        meta = res.get("Metadata") or {}
        binary = (meta.get("BuildProperties") or {}).get("Binary")
        if meta.get("BuildMethod") != "rust-cargolambda":
            errors.append(f"{logical_id}: Metadata.BuildMethod is not rust-cargolambda")
        if not isinstance(binary, str) or not binary:
            errors.append(f"{logical_id}: no Metadata.BuildProperties.Binary")
            continue
        if binary in routes:
            errors.append(f"{logical_id}: binary {binary!r} is already built by another function")
        fn_binary[logical_id] = binary
        routes.setdefault(binary, set())
        events = (res.get("Properties") or {}).get("Events") or {}
        for event_id, event in events.items():
            if event.get("Type") == "DynamoDB":
                view = check_stream_event(logical_id, event_id, event.get("Properties") or {}, resources, errors)
                streams.setdefault(binary, {})[f"{logical_id}.{event_id}"] = view
                continue
            if event.get("Type") in SCHEDULE_TYPES:
                name = f"{logical_id}.{event_id}"
                raw = (event.get("Properties") or {}).get("Input")
                try:
                    schedule_input = json.loads(raw)
                except (TypeError, json.JSONDecodeError):
                    errors.append(f"{name}: Input must be literal JSON (the event the function receives)")
                    continue
                if isinstance(schedule_input, dict) and "Records" in schedule_input:
                    errors.append(f"{name}: Input has Records: the handler would take it for a stream batch")
                schedules.setdefault(binary, {})[name] = schedule_input
                continue
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            # Without ApiId, SAM silently creates a second, implicit API (no CORS, no throttling).
            api = props.get("ApiId")
            if not (isinstance(api, dict) and api.get("Ref") in http_apis):
                errors.append(f"{logical_id}.{event_id}: ApiId must be !Ref of the template's HttpApi")
            method, path = str(props.get("Method", "")).upper(), props.get("Path")
            if method not in HTTP_METHODS or not isinstance(path, str):
                errors.append(f"{logical_id}.{event_id}: needs a literal Method and Path")
                continue
            key = f"{method} {path}"
            authorizer = (props.get("Auth") or {}).get("Authorizer")
            if authorizer == "NONE":
                public_routes.add(key)
            elif authorizer is not None:
                errors.append(f"{logical_id}.{event_id}: Auth.Authorizer must be NONE or left to the default")
            if key in route_owner:
                errors.append(f"{logical_id}.{event_id}: route {key} is also on {route_owner[key]}")
            route_owner[key] = logical_id
            routes[binary].add(key)

    # ---- WebSocket APIs: route key -> the binary its integration invokes
    socket_routes = websocket_routes(resources, fn_binary, errors)

    # ---- (a) and (b): template <-> Cargo workspace
    binaries = cargo_binaries(root)
    for logical_id, binary in sorted(fn_binary.items()):
        if binary not in binaries:
            errors.append(
                f"{logical_id}: Binary {binary!r} is no binary of a package under functions/ "
                f"(have: {', '.join(sorted(binaries))})"
            )
    deployed = set(fn_binary.values())
    for binary, manifest in sorted(binaries.items()):
        if binary not in deployed and binary not in NOT_DEPLOYED:
            errors.append(
                f"{manifest.relative_to(root)}: binary {binary!r} is not deployed by template.yaml "
                f"(add a function, or list it in NOT_DEPLOYED in {Path(__file__).name})"
            )
    print(
        f"checked {len(fn_binary)} template functions against {len(binaries)} packages under "
        f"functions/ (not deployed: {', '.join(sorted(NOT_DEPLOYED & binaries.keys())) or 'none'})"
    )

    # ---- (f): edge authorization
    authorizer_binaries = check_authorizers(root, resources, fn_binary, route_owner, public_routes, errors)

    # ---- (c) and (d): events/ fixtures
    covered: set[str] = set()
    covered_events: set[str] = set()  # stream and schedule events with a fixture
    covered_sockets: set[str] = set()  # WebSocket route keys with a fixture
    event_files = 0
    events_dir = root / "events"
    fixture_dirs = sorted(p for p in events_dir.iterdir() if p.is_dir()) if events_dir.is_dir() else []
    for fixture_dir in fixture_dirs:
        binary = fixture_dir.name
        if binary not in routes:
            errors.append(f"events/{binary}/: no function in template.yaml builds binary {binary!r}")
        for path in sorted(fixture_dir.rglob("*.json")):
            event_files += 1
            rel = path.relative_to(root)
            try:
                event = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                errors.append(f"{rel}: not valid JSON ({e})")
                continue
            if isinstance(event, dict) and "Records" in event:
                covered_events.update(check_stream_fixture(rel, event, binary, streams, errors))
                continue
            if isinstance(event, dict) and (event.get("requestContext") or {}).get("eventType") in SOCKET_EVENTS:
                covered_sockets.update(check_socket_fixture(rel, event, binary, socket_routes, errors))
                continue
            if not isinstance(event, dict) or event.get("version") != "2.0":
                if binary in schedules:
                    matching = {name for name, value in schedules[binary].items() if value == event}
                    if not matching:
                        errors.append(
                            f"{rel}: neither an HTTP API payload 2.0 event nor the Input of a schedule "
                            f"of {binary!r} ({', '.join(sorted(schedules[binary]))})"
                        )
                    covered_events.update(matching)
                else:
                    errors.append(f"{rel}: not an HTTP API payload 2.0 event (version != \"2.0\")")
                continue
            if event.get("type") == "REQUEST":
                check_authorizer_fixture(rel, event, binary, authorizer_binaries, route_owner, public_routes, errors)
                continue
            route_key = event.get("routeKey")
            ctx = event.get("requestContext") or {}
            http = ctx.get("http") or {}
            if ctx.get("routeKey") != route_key:
                errors.append(f"{rel}: requestContext.routeKey differs from routeKey")
            if not isinstance(route_key, str) or " " not in route_key:
                errors.append(f"{rel}: routeKey {route_key!r} is not 'METHOD /path'")
                continue
            method, route_path = route_key.split(" ", 1)
            if http.get("method") != method:
                errors.append(f"{rel}: requestContext.http.method {http.get('method')!r} != {method!r}")
            raw_path = event.get("rawPath")
            if not isinstance(raw_path, str) or not route_regex(route_path).match(raw_path):
                errors.append(f"{rel}: rawPath {raw_path!r} does not match route {route_path}")
            elif http.get("path") != raw_path:
                errors.append(f"{rel}: requestContext.http.path differs from rawPath")
            if not isinstance(event.get("isBase64Encoded"), bool):
                errors.append(f"{rel}: isBase64Encoded missing")
            if "body" in event and not isinstance(event["body"], str):
                errors.append(f"{rel}: body must be a string (the raw request body)")
            if binary in routes:
                if route_key in routes[binary]:
                    covered.add(route_key)
                else:
                    errors.append(
                        f"{rel}: routeKey {route_key!r} is not a route of {binary!r} "
                        f"(its routes: {', '.join(sorted(routes[binary])) or 'none'})"
                    )
    for key in sorted(set(socket_routes) - covered_sockets):
        errors.append(f"WebSocket route {key} ({socket_routes[key]}) has no events/ fixture")
    for key in sorted(set(route_owner) - covered):
        errors.append(f"route {key} ({route_owner[key]}) has no events/ fixture")
    other_events = {name for by_binary in (streams, schedules) for named in by_binary.values() for name in named}
    for name in sorted(other_events - covered_events):
        errors.append(f"{name} has no events/ fixture (one that passes its filters, or its exact Input)")
    print(
        f"checked {event_files} event fixtures in events/ against {len(route_owner)} HttpApi routes "
        f"({len(covered)} covered) and {len(other_events)} stream/schedule events "
        f"({len(covered_events & other_events)} covered) and {len(socket_routes)} WebSocket routes "
        f"({len(covered_sockets)} covered)"
    )

    # ---- (e): the SAM transform's output
    if not check_transformed(root, errors):
        if args.require_transform:
            errors.append("aws-sam-translator is not installed: cannot check the SAM transform output")
        else:
            print("SKIP SAM transform output check (aws-sam-translator not installed)")

    if errors:
        # stdout, like the progress lines above, so the two never interleave out of order.
        for e in errors:
            print(f"FAIL {e}")
        print(f"workspace cross-check: {len(errors)} problem(s)")
        return 1
    print("workspace cross-check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
