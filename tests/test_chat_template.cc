// Chat templates: nib_chat_template_apply against Jinja2 itself.
//
// Every template (nib's built-ins, the chat_template of the tokenizer
// configs under ../shared, and the real templates in
// tests/data/chat_templates/, taken from llama.cpp's tests and
// models/templates) is rendered for a matrix of conversations by nib and by
// tests/render_jinja.py, which sets Jinja2 up as transformers'
// apply_chat_template does; outputs must match byte for byte, and where
// Jinja raises (roles not alternating, ...) nib must fail too. A second
// table of small templates pins the expression semantics (filters, tests,
// methods, loops, whitespace control) the same way. python3 with jinja2 is
// required (scripts/install-deps.sh installs it): without it the tests fail.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <cjson/cJSON.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Msg {
    std::string role, content;
};

struct Case {
    std::string name;     // template name, for messages
    std::string source;   // Jinja source
    std::vector<Msg> msgs;
    bool agp = false;
    std::string bos, eos;
};

struct Result {
    bool ok = false;
    std::string out;  // output, or error message
};

std::string slurp(const std::string &path) {
    std::vector<uint8_t> b = nib_test_read_file(path);
    return std::string(b.begin(), b.end());
}

Result render_nib(const Case &c) {
    std::vector<nib_chat_message> m;
    for (const auto &x : c.msgs) m.push_back({x.role.c_str(), x.content.c_str()});
    char *out = nullptr;
    nib_error err{};
    Result r;
    int rc = nib_chat_template_apply(c.source.c_str(), m.data(), m.size(), c.agp, c.bos.c_str(), c.eos.c_str(), &out,
                                     &err);
    r.ok = rc == 0;
    if (r.ok) {
        r.out = out;
        std::free(out);
    } else {
        r.out = std::string(nib_status_name(rc)) + ": " + err.msg;
        EXPECT_EQ(out, nullptr);
        EXPECT_EQ(rc, NIB_E_FORMAT) << c.name << ": " << err.msg;
    }
    return r;
}

// Runs tests/render_jinja.py once for all cases. Fails the test (and returns
// an empty vector) when python3 or jinja2 is missing.
std::vector<Result> render_jinja(const std::vector<Case> &cases) {
    cJSON *arr = cJSON_CreateArray();
    for (const auto &c : cases) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "template", c.source.c_str());
        cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
        for (const auto &m : c.msgs) {
            cJSON *mo = cJSON_CreateObject();
            cJSON_AddStringToObject(mo, "role", m.role.c_str());
            cJSON_AddStringToObject(mo, "content", m.content.c_str());
            cJSON_AddItemToArray(msgs, mo);
        }
        cJSON_AddBoolToObject(o, "add_generation_prompt", c.agp);
        cJSON_AddStringToObject(o, "bos_token", c.bos.c_str());
        cJSON_AddStringToObject(o, "eos_token", c.eos.c_str());
        cJSON_AddItemToArray(arr, o);
    }
    char *json = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    const std::string in_path = nib_test_temp_path("chat_template_cases.json");
    {
        std::ofstream f(in_path, std::ios::binary);
        f << json;
    }
    cJSON_free(json);
    const std::string cmd = "python3 '" NIB_SOURCE_DIR "/tests/render_jinja.py' < '" + in_path + "'";
    FILE *p = popen(cmd.c_str(), "r");
    std::vector<Result> res;
    if (!p) {
        ADD_FAILURE() << "cannot run python3 (needed to compare with Jinja2; scripts/install-deps.sh installs it)";
        return res;
    }
    std::string out;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    int status = pclose(p);
    std::remove(in_path.c_str());
    if (status != 0) {
        ADD_FAILURE() << "'" << cmd << "' failed (status " << status
                      << "): python3 with jinja2 is required (scripts/install-deps.sh installs python3-jinja2)";
        return res;
    }
    cJSON *r = cJSON_Parse(out.c_str());
    if (!r || !cJSON_IsArray(r) || (size_t)cJSON_GetArraySize(r) != cases.size()) {
        ADD_FAILURE() << "render_jinja.py returned malformed output";
        cJSON_Delete(r);
        return res;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, r) {
        Result x;
        x.ok = cJSON_IsTrue(cJSON_GetObjectItem(it, "ok"));
        cJSON *s = cJSON_GetObjectItem(it, x.ok ? "out" : "error");
        x.out = cJSON_IsString(s) ? s->valuestring : "";
        res.push_back(x);
    }
    cJSON_Delete(r);
    return res;
}

std::string show(const std::string &s) {
    std::string o;
    for (unsigned char ch : s) {
        if (ch == '\n') o += "\\n";
        else if (ch < 0x20) {
            char b[8];
            std::snprintf(b, sizeof(b), "\\x%02x", ch);
            o += b;
        } else o += (char)ch;
    }
    return o;
}

struct Tally {
    int same = 0, both_raise = 0, mismatched = 0;
};

// Compares nib with Jinja on all cases; returns per-template tallies.
std::map<std::string, Tally> compare(const std::vector<Case> &cases) {
    std::map<std::string, Tally> t;
    std::vector<Result> ref = render_jinja(cases);
    if (ref.size() != cases.size()) return t;
    int reported = 0;
    for (size_t i = 0; i < cases.size(); i++) {
        Result got = render_nib(cases[i]);
        Tally &y = t[cases[i].name];
        if (got.ok == ref[i].ok && (!got.ok || got.out == ref[i].out)) {
            (got.ok ? y.same : y.both_raise)++;
            continue;
        }
        if (y.mismatched++ < 2 && reported++ < 40) {
            std::string conv;
            for (const auto &m : cases[i].msgs) conv += m.role + ",";
            ADD_FAILURE() << "template " << cases[i].name << " (messages " << conv << " agp " << cases[i].agp
                          << ", bos '" << cases[i].bos << "')\n  jinja: " << (ref[i].ok ? "" : "RAISES ")
                          << show(ref[i].out) << "\n  nib:   " << (got.ok ? "" : "RAISES ") << show(got.out);
        }
    }
    return t;
}

std::vector<std::vector<Msg>> conversations() {
    const std::string tricky = "Quotes ' \" and braces {{ x }} {% if %} {# c #}\nnew line\t tab \\ backslash";
    const std::string uni = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82 \xc3\x9c\xc3\x9f";
    return {
        {{"user", "Hello"}},
        {{"system", "You are a helpful assistant"}, {"user", "Hi there"}},
        {{"system", "Be brief."}, {"user", "What is 2+2?"}, {"assistant", "4"}, {"user", "And 3+3?"}},
        {{"user", "one"}, {"assistant", "two"}, {"user", "three"}, {"assistant", "four"}, {"user", "five"}},
        {{"user", tricky}, {"assistant", "  padded answer  \n\n"}, {"user", uni}},
        {{"user", "Hi"}, {"assistant", "Hello! How can I help?"}},
        {{"system", "sys\nwith two lines"}, {"user", "  leading spaces"}, {"assistant", "<think>\nhmm\n</think>\n\nok"}},
        {{"user", "a"}, {"user", "b"}},                            // not alternating
        {{"assistant", "I speak first"}, {"user", "ok"}},          // assistant first
        {{"system", "only a system prompt"}},
        {{"user", "call a tool"}, {"assistant", "sure"}, {"tool", "{\"result\": 42}"}, {"user", "thanks"}},
        {},                                                        // no messages
    };
}

std::vector<std::pair<std::string, std::string>> all_templates() {
    std::vector<std::pair<std::string, std::string>> t;
    std::stringstream names(nib_chat_template_names());
    for (std::string n; std::getline(names, n, ',');) {
        const char *src = nib_chat_template_builtin(n.c_str());
        EXPECT_NE(src, nullptr) << n;
        if (src) t.push_back({"builtin:" + n, src});
    }
    for (const char *fam : {"llama2", "llama3", "mistral"}) {
        const std::string path = nib_test_shared_dir() + "/models/tokenizers/" + fam + "/tokenizer_config.json";
        std::ifstream f(path);
        if (!f) continue;
        cJSON *j = cJSON_Parse(slurp(path).c_str());
        cJSON *ct = cJSON_GetObjectItem(j, "chat_template");
        if (cJSON_IsString(ct)) t.push_back({std::string("shared:") + fam, ct->valuestring});
        cJSON_Delete(j);
    }
    for (const auto &p : nib_test_list_files(NIB_SOURCE_DIR "/tests/data/chat_templates", ".jinja")) {
        std::string name = p.substr(p.find_last_of('/') + 1);
        t.push_back({name, slurp(p)});
    }
    return t;
}

// Small templates pinning one feature each; rendered for a 4-message
// conversation by nib and by Jinja2 and compared like the real templates.
const char *const kSnippets[] = {
    "{{ 1 + 2 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}",
    "{{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 1e16 }} {{ 123456789012345.0 }} {{ -0.0 }} {{ 3.0 * 2 }}",
    "{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 10 / 4 * 2 }} {{ 1_000 + 1 }} {{ 2.5e3 }}",
    "{{ 'ab' * 3 }}{{ [1, 2] * 2 }}{{ 'a' ~ 1 ~ none ~ true }}{{ 'x' + 'y' }}{{ [1] + [2, 3] }}",
    "{{ none }} {{ true }} {{ False }} {{ [1, 'a', none, true, 2.0] }} {{ {'k': 'v', 'n': [1]} }} {{ ('t',) }} {{ (1, 2) }}",
    "{{ \"it's\" }} {{ ['it\\'s', \"q\\\"d\", 'tab\\tnl\\n'] }} {{ 'a\\x41\\u00e9\\101' }} {{ 'adj' 'acent' }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 != 2 }}",
    "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'cat' }} {{ not 1 in [1] }}",
    "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ '' or [] }} {{ none and 1 }} {{ not '' }} {{ 'a' if 0 else 'b' }} {{ 'c' if 1 }}|{{ 'd' if 0 }}|",
    "{{ messages[0].role }} {{ messages[-1]['content'] }} {{ messages|length }} {{ messages[1:3]|map(attribute='role')|join(',') }}",
    "{{ 'hello'[1:4] }} {{ 'hello'[::-1] }} {{ 'hello'[-2:] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3][5:] }} {{ 'h\xc3\xa9llo'[1] }} {{ 'abc'[-1] }}",
    "{{ [1,2,3,4,5][-2::-2] }} {{ 'abcdef'[4:1:-1] }} {{ [0,1,2][-10:10] }} {{ 'abc'[:0] }}|",
    "{{ '  pad  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'Hello World'|upper }}|{{ 'Hello'|lower }}|{{ 'hello wORLD'|capitalize }}|{{ 'hello-world (x) [y] {z} <w>ok'|title }}",
    "{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ [3, 1, 2]|sort(reverse=true) }}",
    "{{ messages|sort(attribute='role')|map(attribute='content')|join('|') }}",
    "{{ [1, 2, 2, 3, 1]|unique|list }} {{ ['a', 'A', 'b']|unique|list }} {{ [1, 2, 3]|reverse|list }} {{ 'abc'|reverse }}",
    "{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|last }} {{ []|first }}|{{ {'a': 1}|first }}",
    "{{ [1, 2, 3]|join }} {{ [1, 2, 3]|join(', ') }} {{ 'abc'|join('-') }} {{ messages|join(attribute='role') }}",
    "{{ x|default('d') }} {{ ''|default('e') }} {{ ''|default('f', true) }} {{ none|d('g') }} {{ 0|default(5, boolean=true) }}",
    "{{ messages[0]|tojson }} {{ [1, 2.5, none, true, 'x\"y\\n\xc3\xa9']|tojson }} {{ {'b': 1, 'a': [1, {'c': 2}]}|tojson(indent=2) }}",
    "{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ {'a': [], 'b': {}}|tojson(indent=4) }} {{ 'caf\xc3\xa9 \\u00e9'|tojson(ensure_ascii=true) }} {{ {1: 2}|tojson }}",
    "{{ [1, [2, 3]]|tojson(separators=(',', ':')) }} {{ 1.0|tojson }} {{ 1e100|tojson }}",
    "{{ 42|string ~ '!' }} {{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '2.5'|float }} {{ 3|float }} {{ ' 12 '|int }}",
    "{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ 5|round }} {{ -3|abs }} {{ -2.5|abs }}",
    "{{ {'a': 1, 'b': 2}|items|list }} {% for k, v in {'x': 1, 'y': 2}.items() %}{{ k }}={{ v }};{% endfor %} {{ {'a': 1}.keys()|list }} {{ {'a': 1}.values()|list }}",
    "{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('b') }} {{ {'a': 1}.get('b', 'z') }} {{ messages[0].get('role') }}",
    "{{ '<b>&\"\\'</b>'|e }} {{ '<i>'|escape }} {{ '<x>'|safe }}",
    "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(width=3, blank=true) }}|{{ 'x\\ny'|indent('> ') }}|",
    "{{ 'one two  three'|wordcount }} {{ 'abc'|center(9) }}| {{ 'ab'|center(7) }}|",
    "{{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|join(',') }}",
    "{{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ [0, 1, '', 'a']|select|list }} {{ [1, 5, 10]|select('gt', 3)|list }}",
    "{{ messages|selectattr('content')|list|length }} {{ messages|map(attribute='nope', default='-')|join }} {{ ['a', 'B']|map('upper')|join }}",
    "{{ [3, 1, 2]|max }} {{ [3, 1, 2]|min }} {{ [1, 2, 3]|sum }} {{ [[1], [2]]|sum(start=[]) }} {{ ['b', 'A']|max }}",
    "{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 'x')|list }} {{ {'b': 1, 'a': 2}|dictsort }} {{ 'abc'|list }}",
    "{{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b c '.split() }}|{{ 'a b c'.split(' ', 1) }}",
    "{{ 'a b c  '.split(none, 1) }} {{ '  a b c'.rsplit(none, 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'l1\\nl2\\r\\nl3'.splitlines() }}",
    "{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ 'they\\'re 1st'.title() }} {{ 'hELLO'.capitalize() }}",
    "{{ 'aaa'.replace('a', 'b', 2) }} {{ 'abc'.replace('', '-') }} {{ 'h\xc3\xa9llo'.find('l') }} {{ 'abc'.find('z') }} {{ 'abcabc'.rfind('b') }} {{ 'aaaa'.count('aa') }}",
    "{{ ', '.join(['a', 'b']) }} {{ '{} and {}'.format('x', 1) }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{n}!'.format(n=3) }} {{ '{{x}}'.format() }}",
    "{{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ ' '.isspace() }} {{ 'ABC'.isupper() }} {{ 'abc'.islower() }} {{ ''.isdigit() }}",
    "{{ [1, 2, 1].count(1) }} {{ [1, 2, 3].index(2) }}",
    "{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ 'a' is string }}",
    "{{ {} is mapping }} {{ [] is iterable }} {{ 'a' is sequence }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ true is boolean }} {{ false is false }}",
    "{{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 'a' is in 'abc' }} {{ 'ABC' is upper }} {{ 'abc' is lower }} {{ range is callable }} {{ none is not none }} {{ x is not defined }}",
    "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}",
    "{% for m in messages %}{{ loop.previtem.role if loop.previtem is defined else '-' }}>{{ loop.nextitem.role if not loop.last else '-' }} {{ loop.cycle('a', 'b') }};{% endfor %}",
    "{% for m in messages if m.role != 'system' %}{{ loop.index }}{{ m.role[0] }}{{ loop.length }},{% else %}none{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in y %}u{% else %}undef{% endfor %} {% for c in 'ab' %}{{ c }}{% endfor %} {% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}",
    "{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %} {{ range(2, 10, 3)|list }} {{ range(3, 0, -1)|list }}",
    "{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %} {% for (a, b) in [[5, 6]] %}{{ a * b }}{% endfor %} {% set p, q = 1, 2 %}{{ p }}{{ q }}",
    "{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}",
    "{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.s = ns.s + m.role[0] %}{% endfor %}{{ ns.n }} {{ ns.s }}",
    "{% set ns = namespace() %}{% set ns.flag = true %}{{ ns.flag }} {{ ns.missing is defined }}",
    "{% set block %}A{{ 1 + 1 }}B{% endset %}[{{ block }}] {% set up | upper %}shout{% endset %}{{ up }}",
    "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', '?') }} {{ greet(punct='.', name='Cy') }} {{ greet() }}|",
    "{% macro late() %}{{ v }}{% endmacro %}{% set v = 'seen' %}{{ late() }} {% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(3) }}",
    "{% filter upper %}shout {{ 'this' }}{% endfilter %} {% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}",
    "{% if 0 %}a{% elif '' %}b{% elif [1] %}c{% else %}d{% endif %}{% if none %}x{% endif %}{% if true %}{% if false %}{% else %}nested{% endif %}{% endif %}",
    "{% set g = 1 %}{% generation %}gen {{ g }}{% set g = 2 %}{{ g }}{% endgeneration %}{{ g }} {% raw %}{{ not rendered }} {% if %}{% endraw %}",
    "{{ strftime_now('%Y') | length }} {{ raise_exception is defined }} {{ tools is none }} {{ documents }} {{ add_generation_prompt }} {{ bos_token }}{{ eos_token }}",
    "a  \n  {% if true %}\n  x\n  {% endif %}\n  {# comment #}\n  y {{ 1 }}  \n",
    "a\n  {{- 1 }}\n{%+ if true %}b{% endif +%}\nc {{ 2 -}}   \n d{#- c -#}  e",
    "  {%- for m in messages -%}\n   {{ m.role }}\n  {%- endfor %}\n\n{%- if true %}  yes  {% endif -%}  \n  tail",
    "line1\r\nline2\r{% if true %}\r\nin{% endif %}\n",
    "{% if true %}\n    {%- set v = 1 %}\n{% endif %}\n  {{ v }}\n\t{% if v %}tab{% endif %}\n",
    "{{ {'a': {'b': [10, 20]}}.a.b[1] }} {{ {'a': 1}['a'] }} {{ [1, 2].0 }} {{ messages.0.role }} {{ {'a': 1}.nope is defined }} {{ none.attr is defined }}",
    "{{ 'x' ~ y ~ 'z' }} {{ y|length }} {{ y|upper }}| {{ y|list }} {{ y|join }}| {{ y|trim }}| {{ y|first is defined }} {{ y|string }}|",
    "{{ -1|abs }} {{ not none is none }} {{ 'ab' ~ 1|string }} {{ -2 ** 2 }} {{ (-2) ** 2 }} {{ 2 * 3 + 4 }} {{ 2 * (3 + 4) }} {{ 1 - 2 - 3 }}",
    "{{ messages[0]['content'] | trim | length > 3 }} {{ (messages | length) % 2 == 0 }} {{ messages[0].content.split(' ')[0] }}",
    "{{ [] is sequence }} {{ 'a' is iterable }} {{ {'a': 1} == {'a': 1} }} {{ [1, [2]] == [1, [2]] }} {{ (1, 2) == [1, 2] }} {{ none == none }}",
    "{{ '\xe4\xb8\x96\xe7\x95\x8c'|length }} {{ '\xc3\xa9t\xc3\xa9'|upper }} {{ '\xc3\x89T\xc3\x89'|lower }} {{ '\xce\xb1\xce\xb2'|upper }} {{ '\xd0\x90\xd0\x91'|lower }}",
    "{{ 1 if messages else 0 }}{{ messages|selectattr('role', 'in', ['user', 'system'])|list|length }}",
    "{% set d = {'x': 1} %}{% set l = [d, d] %}{{ l|map(attribute='x')|sum }} {{ l|tojson }} {{ dict(a=1, b='c') }} {{ namespace(a=1).a }}",
    // errors: both must raise
    "{{ raise_exception('custom failure') }}",
    "{{ x.y }}",
    "{{ x['y'] }}",
    "{{ x() }}",
    "{{ 1 + 'a' }}",
    "{{ 1 / 0 }}",
    "{{ 1 < 'a' }}",
    "{{ none|length }}",
    "{{ x + 1 }}",
    "{{ x|tojson }}",
    "{{ unknown_fn(1) }}",
    "{{ [1, 2]|nofilter }}",
    "{{ 1 is nosuchtest }}",
    "{% for a, b in [1, 2] %}{% endfor %}",
    "{% set n = 5 %}{% set n.attr = 1 %}",
    "{{ range(200000)|length }}",
    "{% if %}{% endif %}",
    "{% if true %}",
    "{% for x in %}{% endfor %}",
    "{{ 1 + }}",
    "{{ 'unterminated }}",
    "{% endif %}",
    "{% foo %}",
    "{{ (1, 2 }}",
    "{# unclosed comment",
    "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
    "{% macro m(a) %}{% endmacro %}{{ m(b=1) }}",
};

TEST(ChatTemplate, ExpressionSemanticsMatchJinja2) {
    const std::vector<Msg> conv = {{"system", "Be brief."}, {"user", "What is 2+2?"}, {"assistant", "4"}, {"user", "Thanks!"}};
    std::vector<Case> cases;
    for (const char *s : kSnippets) cases.push_back({s, s, conv, true, "<s>", "</s>"});
    const auto tally = compare(cases);
    if (tally.empty()) return;
    int same = 0, raise = 0;
    for (const auto &t : tally) {
        same += t.second.same;
        raise += t.second.both_raise;
    }
    std::printf("[ chat ] %zu snippets: %d byte-identical, %d raise in both\n", cases.size(), same, raise);
}

TEST(ChatTemplate, MatchesJinja2OnRealTemplates) {
    const auto templates = all_templates();
    ASSERT_GE(templates.size(), 12u);
    const std::vector<std::pair<std::string, std::string>> tokens = {
        {"<s>", "</s>"}, {"<|begin_of_text|>", "<|eot_id|>"}, {"", ""}};
    std::vector<Case> cases;
    for (const auto &t : templates)
        for (const auto &conv : conversations())
            for (bool agp : {false, true})
                for (const auto &tok : tokens) cases.push_back({t.first, t.second, conv, agp, tok.first, tok.second});
    const auto tally = compare(cases);
    if (tally.empty()) return;  // render_jinja failed; already reported
    int same = 0, raise = 0, bad = 0;
    for (const auto &t : templates) {
        const Tally &y = tally.at(t.first);
        same += y.same;
        raise += y.both_raise;
        bad += y.mismatched;
        EXPECT_GT(y.same, 0) << t.first << ": no conversation renders (both raise every time)";
    }
    std::printf("[ chat ] %zu templates, %zu renders: %d byte-identical, %d raise in both, %d differ\n",
                templates.size(), cases.size(), same, raise, bad);
}


TEST(ChatTemplate, BuiltinsAndArguments) {
    const std::string names = nib_chat_template_names();
    for (const char *n : {"chatml", "llama2", "llama3", "mistral-v1", "mistral-v3", "mistral-v7", "mistral-tekken",
                          "phi3", "gemma", "zephyr", "deepseek", "smollm"}) {
        EXPECT_NE(names.find(n), std::string::npos) << n;
        EXPECT_NE(nib_chat_template_builtin(n), nullptr) << n;
    }
    EXPECT_EQ(nib_chat_template_builtin("no-such-template"), nullptr);
    EXPECT_EQ(nib_chat_template_builtin(nullptr), nullptr);

    const nib_chat_message m[] = {{"user", "hi"}};
    char *out = reinterpret_cast<char *>(1);
    nib_error err{};
    EXPECT_EQ(nib_chat_template_apply(nullptr, m, 1, true, "", "", &out, &err), NIB_E_ARG);
    EXPECT_EQ(out, nullptr);
    EXPECT_EQ(nib_chat_template_apply("x", nullptr, 1, true, "", "", &out, &err), NIB_E_ARG);
    EXPECT_EQ(nib_chat_template_apply("x", m, 1, true, "", "", nullptr, &err), NIB_E_ARG);
    const nib_chat_message no_role[] = {{nullptr, "hi"}};
    EXPECT_EQ(nib_chat_template_apply("x", no_role, 1, true, "", "", &out, &err), NIB_E_ARG);

    // NULL tokens render as "", NULL content as None; err may be NULL.
    const nib_chat_message null_content[] = {{"assistant", nullptr}};
    ASSERT_EQ(nib_chat_template_apply("[{{ bos_token }}{{ eos_token }}{{ messages[0].content is none }}]", null_content,
                                      1, false, nullptr, nullptr, &out, nullptr), 0);
    EXPECT_STREQ(out, "[True]");
    std::free(out);

    // chatml, spelled out
    const nib_chat_message conv[] = {{"system", "S"}, {"user", "U"}};
    ASSERT_EQ(nib_chat_template_apply(nib_chat_template_builtin("chatml"), conv, 2, true, "", "", &out, &err), 0);
    EXPECT_STREQ(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
    std::free(out);
}

TEST(ChatTemplate, ErrorsNameLineAndMessage) {
    const nib_chat_message m[] = {{"user", "a"}, {"user", "b"}};
    char *out = nullptr;
    nib_error err{};
    EXPECT_EQ(nib_chat_template_apply(nib_chat_template_builtin("llama2"), m, 2, true, "<s>", "</s>", &out, &err),
              NIB_E_FORMAT);
    EXPECT_EQ(out, nullptr);
    EXPECT_NE(std::string(err.msg).find("Conversation roles must alternate"), std::string::npos) << err.msg;

    EXPECT_EQ(nib_chat_template_apply("line one\n{% if true %}\n{{ 1 + }}\n{% endif %}", m, 2, true, "", "", &out, &err),
              NIB_E_FORMAT);
    EXPECT_NE(std::string(err.msg).find("line 3"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_chat_template_apply("{% for m in messages %}", m, 2, true, "", "", &out, &err), NIB_E_FORMAT);
    EXPECT_NE(std::string(err.msg).find("endfor"), std::string::npos) << err.msg;
}

// Runaway templates end with an error, not a hang, a crash or exhausted memory.
TEST(ChatTemplate, RunawayTemplatesAreCapped) {
    const nib_chat_message m[] = {{"user", "a"}};
    const char *const bad[] = {
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
        "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{{ 'x' * 100000000 }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ ns.s[:1000] %}{% endfor %}{{ ns.s|length }}",
    };
    for (const char *t : bad) {
        char *out = nullptr;
        nib_error err{};
        EXPECT_LT(nib_chat_template_apply(t, m, 1, true, "", "", &out, &err), 0) << t;
        EXPECT_EQ(out, nullptr);
        EXPECT_GT(std::strlen(err.msg), 0u);
    }
    std::string deep(5000, '(');
    deep += "1" + std::string(5000, ')');
    char *out = nullptr;
    nib_error err{};
    EXPECT_EQ(nib_chat_template_apply(("{{ " + deep + " }}").c_str(), m, 1, true, "", "", &out, &err), NIB_E_FORMAT);
    std::string chain = "{{ 1";
    for (int i = 0; i < 20000; i++) chain += " + 1";
    chain += " }}";
    int rc = nib_chat_template_apply(chain.c_str(), m, 1, true, "", "", &out, &err);
    EXPECT_TRUE(rc == NIB_E_FORMAT || (rc == 0 && std::string(out) == "20001"));
    if (rc == 0) std::free(out);
}

// Random edits of real templates: every result is either a render or a
// NIB_E_FORMAT error with a message (ASan/UBSan builds check the rest).
TEST(ChatTemplate, MutatedTemplatesNeverCrash) {
    static const char *const pieces[] = {
        "{%", "%}", "{{", "}}", "{#", "#}", "-", "+", "(", ")", "[", "]", "{", "}", "'", "\"", "|", ".", ",", ":",
        " is ", " not ", " in ", " if ", " else ", "loop", "\\", "\n", "{% endfor %}", "{% endif %}", "{% else %}",
        "{% for x in messages %}", "{% if x %}", "{% set ns.a = 1 %}", "{{ x|tojson }}", "[::-1]", "\xc3", "\xff",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{% raw %}", "{% endraw %}", "namespace(", "**", "//"};
    const auto templates = all_templates();
    const std::vector<Msg> conv = {{"system", "s"}, {"user", "u"}, {"assistant", "a"}, {"user", "v"}};
    std::vector<nib_chat_message> m;
    for (const auto &x : conv) m.push_back({x.role.c_str(), x.content.c_str()});
    NibRng rng(12345);
    int rendered = 0, failed = 0;
    for (const auto &t : templates) {
        for (int k = 0; k < 24; k++) {
            std::string s = t.second;
            const int edits = 1 + (int)(rng.next() % 4);
            for (int e = 0; e < edits && !s.empty(); e++) {
                size_t at = rng.next() % (s.size() + 1), len = 1 + rng.next() % 24;
                switch (rng.next() % 4) {
                case 0: s.erase(at, len); break;
                case 1: s.insert(at, pieces[rng.next() % (sizeof(pieces) / sizeof(pieces[0]))]); break;
                case 2: s.insert(at, s.substr(rng.next() % s.size(), len)); break;
                default:
                    if (at < s.size()) s[at] = (char)(rng.next() & 0xff);
                    if (s[at < s.size() ? at : 0] == '\0') s[at < s.size() ? at : 0] = ' ';
                    break;
                }
            }
            char *out = nullptr;
            nib_error err{};
            int rc = nib_chat_template_apply(s.c_str(), m.data(), m.size(), k & 1, "<s>", "</s>", &out, &err);
            if (rc == 0) {
                ASSERT_NE(out, nullptr);
                std::free(out);
                rendered++;
            } else {
                ASSERT_EQ(rc, NIB_E_FORMAT) << err.msg;
                ASSERT_EQ(out, nullptr);
                ASSERT_GT(std::strlen(err.msg), 0u);
                failed++;
            }
        }
    }
    std::printf("[ chat ] mutated templates: %d rendered, %d rejected\n", rendered, failed);
}

}  // namespace
