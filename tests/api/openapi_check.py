"""Checks HTTP answers against the server's own OpenAPI document (GET /v1/openapi.json).

apiutil.ValidatingServer runs check_answer() on every answer the API tests receive: a
success must be documented for its route, method, status and media type, and a JSON
body must match the schema the document gives; a JSON error (4xx, 5xx) must match
Error. schema_errors() is a small JSON Schema validator for the subset the document
uses. A keyword it does not know is reported as a problem, never skipped, so a schema
it cannot check fails loudly instead of passing silently."""
import json
import re

REF = "#/components/schemas/"

# annotations: they say something about a value but constrain nothing
ANNOTATIONS = {"description", "format", "title", "default", "examples", "contentMediaType"}
KEYWORDS = {"$ref", "type", "properties", "required", "additionalProperties", "items", "enum",
            "const", "pattern", "minimum", "maximum", "maxLength", "maxProperties", "anyOf",
            "oneOf", "allOf"} | ANNOTATIONS

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def is_type(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def resolve(doc, ref):
    if not ref.startswith(REF) or ref[len(REF):] not in doc.get("components", {}).get("schemas", {}):
        raise KeyError(f"unresolvable $ref {ref}")
    return doc["components"]["schemas"][ref[len(REF):]]


def schema_errors(schema, value, doc, where="$"):
    """What is wrong with `value` under `schema` (JSON Schema 2020-12: $ref into
    components.schemas of `doc`, type (a name or a list of names), properties, required,
    additionalProperties, items, enum, const, pattern, minimum, maximum, maxLength,
    maxProperties, anyOf, oneOf, allOf), as 'path: problem' strings; [] when it conforms."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{where}: no value is allowed here"]
    out = []
    unknown = set(schema) - KEYWORDS
    if unknown:
        return [f"{where}: the validator does not know {sorted(unknown)}"]
    if "$ref" in schema:
        out += schema_errors(resolve(doc, schema["$ref"]), value, doc, where)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(is_type(value, n) for n in names):
            return out + [f"{where}: {json.dumps(value)[:80]} is not {' or '.join(names)}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {json.dumps(value)[:80]} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: {json.dumps(value)[:80]} is not {json.dumps(schema['const'])}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{where}: longer than {schema['maxLength']}")
    if is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{where}: {value} is less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{where}: {value} is more than {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{where}: {name} is missing")
        for name, v in value.items():
            if name in props:
                out += schema_errors(props[name], v, doc, f"{where}.{name}")
            elif "additionalProperties" in schema:
                out += schema_errors(schema["additionalProperties"], v, doc, f"{where}.{name}")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            out.append(f"{where}: more than {schema['maxProperties']} members")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            out += schema_errors(schema["items"], v, doc, f"{where}[{i}]")
    for sub in schema.get("allOf", []):
        out += schema_errors(sub, value, doc, where)
    if "anyOf" in schema:
        tries = [schema_errors(sub, value, doc, where) for sub in schema["anyOf"]]
        if all(tries):
            out.append(f"{where}: matches none of anyOf: " + min(tries, key=len)[0])
    if "oneOf" in schema:
        tries = [schema_errors(sub, value, doc, where) for sub in schema["oneOf"]]
        passed = sum(1 for t in tries if not t)
        if passed != 1:
            why = min(tries, key=len)[0] if passed == 0 else f"{passed} branches match"
            out.append(f"{where}: does not match exactly one of oneOf: {why}")
    return out


def find_path(doc, method, path):
    """The path template of `doc` that the server routes `path` (a request target, query
    and all) to for `method`, or None: segments match literally or a {param} matches one
    non-empty segment; a trailing slash is ignored, as the router does; the template with
    the most literal segments wins (POST /v1/rewards/review, not /v1/rewards/{id})."""
    path = path.split("?", 1)[0]
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    segs = path.split("/")
    best, best_literal = None, -1
    for template, item in doc["paths"].items():
        t = template.split("/")
        if method.lower() not in item or len(t) != len(segs):
            continue
        literal = 0
        for a, b in zip(t, segs):
            if a.startswith("{") and a.endswith("}") and b:
                continue
            if a != b:
                break
            literal += 1
        else:
            if literal > best_literal:
                best, best_literal = template, literal
    return best


def check_answer(doc, method, path, status, headers, payload):
    """Problems of one answer (status, headers with lower-case names, body bytes) to
    `method` `path` against `doc`; [] when it is as documented."""
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    where = f"{method} {path} -> {status}"
    if method == "HEAD":
        return []
    if 200 <= status < 300:
        template = find_path(doc, method, path)
        if template is None:
            return [f"{where}: a success from a route the document does not list"]
        responses = doc["paths"][template][method.lower()]["responses"]
        if str(status) not in responses:
            return [f"{where}: status not documented for {method} {template} ({sorted(responses)})"]
        content = responses[str(status)].get("content", {})
        if ctype not in content:
            return [f"{where}: {ctype or 'no content type'} not documented for {method} {template} "
                    f"({sorted(content)})"]
        if ctype != "application/json":
            return []
        schema = content[ctype].get("schema")
        if schema is None:
            return [f"{where}: no schema for {method} {template}"]
    elif status >= 400 and ctype == "application/json":
        schema = {"$ref": REF + "Error"}
    else:
        return []
    try:
        body = json.loads(payload)
    except ValueError:
        return [f"{where}: the body is not JSON: {payload[:80]!r}"]
    return [f"{where}: {p}" for p in schema_errors(schema, body, doc)]
