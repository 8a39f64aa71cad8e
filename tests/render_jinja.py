#!/usr/bin/env python3
"""Reference renderer for tests/test_chat_template.cc.

Renders chat templates the way Hugging Face transformers' apply_chat_template
does (transformers/utils/chat_template_utils.py): an
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the
loopcontrols extension and the {% generation %} tag, a tojson filter that is
json.dumps(ensure_ascii=False), and the raise_exception / strftime_now
globals; render() gets messages, tools=None, documents=None,
add_generation_prompt, bos_token and eos_token.

stdin:  a JSON list of cases {"template", "messages", "add_generation_prompt",
        "bos_token", "eos_token"}
stdout: a JSON list, one entry per case: {"ok": true, "out": text} or
        {"ok": false, "error": message}
Exit status 3 when jinja2 is missing.
"""
import json
import sys
from datetime import datetime

try:
    import jinja2
    import jinja2.ext
    import jinja2.nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError as e:  # pragma: no cover
    sys.stderr.write("render_jinja.py: jinja2 is not importable (%s); run scripts/install-deps.sh\n" % e)
    sys.exit(3)


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} ... {% endgeneration %}: renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    env = make_env()
    compiled = {}
    results = []
    for case in cases:
        src = case["template"]
        try:
            if src not in compiled:
                try:
                    compiled[src] = env.from_string(src)
                except Exception as e:  # a syntax error fails every render of it
                    compiled[src] = e
            t = compiled[src]
            if isinstance(t, Exception):
                raise t
            out = t.render(
                messages=case["messages"],
                tools=None,
                documents=None,
                add_generation_prompt=case["add_generation_prompt"],
                bos_token=case["bos_token"],
                eos_token=case["eos_token"],
            )
            results.append({"ok": True, "out": out})
        except Exception as e:
            results.append({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    sys.stdout.write(json.dumps(results, ensure_ascii=True))


if __name__ == "__main__":
    main()
