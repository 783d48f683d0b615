"""A chat template is code from whoever published the model file: the sandbox and its limits.

Each hostile template here must end in one ``ChatTemplateError`` line, quickly; none
may hang, exhaust memory or get at Python's internals. tests/test_sandbox_real.py runs
the same templates through the real program, from a file and inside a GGUF model.
"""

from __future__ import annotations

import pytest

from thinkcli.engine.fake import FakeEngine
from thinkcli.engine.template import SAMPLE, read_template_file, render, template_origin
from thinkcli.engine.template.limits import LIMITS, Limits
from thinkcli.errors import ChatTemplateError, ContextOverflowError, InputError, TemplateLimitError
from thinkcli.reasoning import FORMATS
from thinkcli.turn.prompt import build_prompt

USER = [{"role": "user", "content": "What is 2+2?"}]

#: Reaching Python's internals through attributes, globals and format strings.
ESCAPES = {
    "mro subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler globals": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner globals": "{{ joiner.__init__.__globals__ }}",
    "our own function's globals": "{{ raise_exception.__globals__ }}",
    "template self": "{{ self.__init__.__globals__ }}",
    "attr filter": "{{ messages|attr('__class__') }}",
    "map attribute": "{{ messages|map(attribute='__class__')|list }}",
    "subscript": "{{ ''['__class__'] }}",
    "only tested, never printed": "{% if ''.__class__ %}x{% endif %}",
    "str.format field": "{{ '{0.__class__}'.format(messages) }}",
    "str.format globals": "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "format_map": "{{ '{x.__class__}'.format_map({'x': 1}) }}",
    "format filter": "{{ '%s'|format(''.__class__) }}",
    "percent on an object": "{{ '%s' % (().__class__.__base__,) }}",
    "list mutation": "{{ messages.append(1) }}",
    "dict mutation": "{{ messages[0].update({'role': 'system'}) }}",
}

#: Running long or making much; each names the limit it goes over.
LIMITED = {
    "nested loops": ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "steps"),
    "huge range": ("{{ range(100000000)|length }}", "range() of 100,000,000 items"),
    "repeated string": ("{{ 'x' * 10**9 }}", "characters"),
    "padding": ("{{ 'x'.ljust(10**9) }}", "characters"),
    "center filter": ("{{ 'x'|center(10**9) }}", "characters"),
    "indent filter": ("{{ ('\\n' * 100000)|indent(1000) }}", "characters"),
    "replace": ("{{ ('x' * 100000).replace('', 'y' * 1000) }}", "characters"),
    "join": ("{{ ('x' * 100000).join(['a'] * 1000) }}", "characters"),
    "format width": ("{{ '{:>999999999}'.format(1) }}", "characters"),
    "format width from an argument": ("{{ '{:>{}}'.format(1, 999999999) }}", "characters"),
    "percent width": ("{{ '%999999999d' % 1 }}", "characters"),
    "format filter width": ("{{ '%999999999d'|format(1) }}", "characters"),
    "tojson indent": ("{{ messages|tojson(indent=10**8) }}", "characters"),
    "big number": ("{{ 2 ** 100000000 }}", "bits"),
    "loop appending": ("{% set ns = namespace(s='') %}{% for i in range(99999) %}"
                       "{% set ns.s = ns.s + 'x' * 1000 %}{% endfor %}{{ ns.s }}", "steps"),
    "doubling with ~": ("{% set ns = namespace(s='x') %}{% for i in range(99) %}{% set ns.s = ns.s ~ ns.s %}"
                        "{% endfor %}", "characters"),
    "doubling a list": ("{% set ns = namespace(l=[1]) %}{% for i in range(99) %}{% set ns.l = [ns.l, ns.l] %}"
                        "{% endfor %}{{ ns.l }}", "characters"),
    "printing in a loop": ("{% for i in range(99999) %}{{ 'x' * 1000 }}{% endfor %}", "characters"),
    "block in a loop": ("{% set ns = namespace(s='x' * 100000) %}{% for i in range(20) %}"
                        "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}{% endfor %}", "characters"),
    "namespaces doubling": ("{% macro grow(k, prev) %}{% if k > 0 %}{% set n = namespace(a=none, b=none) %}"
                            "{% set n.a = prev %}{% set n.b = prev %}{{ grow(k - 1, n) }}{% else %}{{ prev }}{% endif %}"
                            "{% endmacro %}{{ grow(40, namespace(a=1)) }}", "characters"),
    "a namespace grown inside a list": ("{% set n = namespace(a=1) %}{% set l = [n] * 10000 %}"
                                        "{% set n.a = 'x' * 10000000 %}{{ l|join }}", "characters"),
    "adding up lists": ("{{ ([[1]] * 100000)|sum(start=[]) }}", "characters"),
    "many slices": ("{{ [1]|slice(10**8)|list|length }}", "characters"),
}

#: Python errors a template can raise, each one line.
ERRORS = {
    "ZeroDivisionError": "{{ 1 / 0 }}",
    "TypeError": "{{ 1 + 'a' }}",
    "IndexError": "{{ '{} {}'.format(1) }}",
    "RecursionError": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "recursive loop": "{% for m in messages recursive %}{{ loop(messages) }}{% endfor %}",
    "deep nesting": "{% set ns = namespace(l=[]) %}{% for i in range(50000) %}{% set ns.l = [ns.l] %}{% endfor %}"
                    "{{ ns.l }}",
    "syntax": "{% for %}",
    "no loader": "{% include '/etc/passwd' %}",
    "undefined call": "{{ nothing() }}",
}


def one_line(exc: Exception) -> str:
    text = str(exc)
    assert "\n" not in text and "\x1b" not in text and len(text) < 400, text
    return text


@pytest.mark.parametrize("template", ESCAPES.values(), ids=ESCAPES.keys())
def test_escapes_are_refused_in_one_line(template):
    with pytest.raises(ChatTemplateError) as caught:
        render(template, USER)
    assert "refused by the sandbox: access to attribute" in one_line(caught.value)


def test_printing_an_object_shows_only_its_name():
    out = render("{{ '%s %r' % (cycler, raise_exception) }}", USER)
    assert out.startswith("<class 'jinja2.utils.Cycler'> <function _raise at 0x")


@pytest.mark.parametrize(("template", "limit"), LIMITED.values(), ids=LIMITED.keys())
def test_limits_end_a_render_in_one_line(template, limit):
    with pytest.raises(TemplateLimitError) as caught:
        render(template, USER)
    assert limit in one_line(caught.value) and "limit" in str(caught.value)


@pytest.mark.parametrize("template", ERRORS.values(), ids=ERRORS.keys())
def test_python_errors_are_one_line(template):
    with pytest.raises(ChatTemplateError) as caught:
        render(template, USER)
    one_line(caught.value)


def test_recursion_and_python_errors_say_what_they_are():
    with pytest.raises(ChatTemplateError, match=r"calls itself too deeply \(RecursionError\)"):
        render(ERRORS["RecursionError"], USER)
    with pytest.raises(ChatTemplateError, match="ZeroDivisionError: division by zero"):
        render(ERRORS["ZeroDivisionError"], USER)
    with pytest.raises(ChatTemplateError, match="line 1: Expected an expression"):
        render(ERRORS["syntax"], USER)


def test_running_out_of_memory_is_one_line():
    def allocate():
        raise MemoryError

    with pytest.raises(TemplateLimitError, match=r"ran out of memory \(MemoryError\)"):
        render("{{ allocate() }}", USER, allocate=allocate)


def test_the_templates_own_error_is_one_clean_line():
    message = "bad\x1b[2J\nrole\r" + "x" * 5000
    with pytest.raises(ChatTemplateError) as caught:
        render("{{ raise_exception(m) }}", USER, m=message)
    text = one_line(caught.value)
    assert text.startswith("chat template: bad [2J role xxx") and text.endswith("…")


def test_the_clock_stops_a_template_whose_steps_are_slow():
    # few steps, each scanning ten million characters: only the clock can stop it
    slow = "{% for i in range(99999) %}{% if 'zz' in big %}{% endif %}{% endfor %}"
    with pytest.raises(TemplateLimitError, match=r"took over 0\.2 s to render \(the limit\)"):
        render(slow, USER, big="x" * 10**7, limits=Limits(seconds=0.2))


# Gemma 4's way: for every message, look back over the earlier ones.
LOOKS_BACK = (
    "{% for m in messages %}{% set ns = namespace(prev=none) %}"
    "{% for j in range(loop.index0 - 1, -1, -1) %}{% if ns.prev is none %}{% set ns.prev = messages[j]['role'] %}"
    "{% endif %}{% endfor %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
)


def test_a_long_conversation_earns_steps_for_templates_that_look_back():
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": str(i)} for i in range(300)]
    assert render(LOOKS_BACK, messages, limits=Limits(steps=20_000, copies=0)).endswith("<user>298<assistant>299")
    with pytest.raises(TemplateLimitError, match="ran over 20,000 steps"):
        render(LOOKS_BACK, messages, limits=Limits(steps=20_000, steps_per_pair=0, copies=0))


def test_a_conversation_over_the_size_limit_is_too_long_whatever_the_template():
    big = [{"role": "user", "content": "x" * (LIMITS.size + 1)}]
    with pytest.raises(ContextOverflowError, match="the conversation is 16,777,217 characters; no prompt may be over"):
        render(None, big)
    half = [{"role": "user", "content": "x" * (LIMITS.size // 2 + 1)}]
    with pytest.raises(TemplateLimitError, match="made over 16,777,216 characters"):
        render("{{ messages[0].content }}{{ messages[0].content }}", half)


def test_a_conversation_earns_copies_for_templates_that_append_to_their_prompt():
    # Reka-Edge's way: the prompt grows in a namespace, copied at every message
    appending = ("{% set ns = namespace(out='') %}{% for m in messages %}{% set ns.out = ns.out ~ m.role ~ ': ' %}"
                 "{% set ns.out = ns.out ~ m.content ~ '<sep>' %}{% endfor %}{{ ns.out }}")
    messages = [{"role": "user", "content": "x" * 2000} for _ in range(400)]
    assert len(render(appending, messages, limits=Limits(steps=1000, steps_per_pair=0))) > 800_000
    with pytest.raises(TemplateLimitError, match="ran over 1,000 steps"):
        render(appending, messages, limits=Limits(steps=1000, steps_per_pair=0, copies=0))


def test_an_oversized_template_is_refused_before_it_compiles():
    with pytest.raises(ChatTemplateError, match="is 200,000 characters long"):
        render("x" * 200_000, USER)


def test_constant_arguments_are_not_folded_past_the_limits():
    # Jinja runs filters on constants while compiling; the limits must still see them
    with pytest.raises(TemplateLimitError):
        render("{{ 'x'|center(999999999) }}", USER)


def test_loops_of_every_kind_still_work():
    template = (
        "{% for k, v in {'a': 1}|dictsort %}{{ k }}{{ v }}{% endfor %}"
        "{% for m in messages if m.role == 'user' %}{{ loop.index }}/{{ loop.length }}{{ loop.last }}{% endfor %}"
        "{% for x in [[1, [2]]] recursive %}{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %}{% endfor %}"
        "{% for c in 'ab' %}{{ c }}{% else %}none{% endfor %}{% for x in [] %}{% else %}empty{% endfor %}"
    )
    assert render(template, USER) == "a11/1True12abempty"


# -- where templates come from ------------------------------------------------------


def test_errors_name_the_model_whose_template_failed():
    engine = FakeEngine([], chat_template=LIMITED["nested loops"][0], name="hostile")
    with pytest.raises(TemplateLimitError, match=r"^chat template of hostile: ran over [\d,]+ steps"):
        build_prompt(engine, FORMATS["think"], USER, thinking=True)


def test_limits_are_not_mistaken_for_a_refused_system_role():
    # the probes that read how a template treats a system message must not swallow a limit
    engine = FakeEngine([], chat_template="{% if messages[0].role == 'system' %}" + LIMITED["nested loops"][0]
                        + "{% endif %}{{ messages[-1].content }}", name="m")
    with pytest.raises(TemplateLimitError):
        build_prompt(engine, FORMATS["prompted"], USER, thinking=True)


def test_template_origin_names_the_file_or_the_model():
    class Info:
        name, path, backend, chat_template_file = "smollm2-135m", "/store/smollm2-135m.gguf", "llama", None

    assert template_origin(Info) == "of smollm2-135m"
    Info.name, Info.path = "SmolLM2 135M", "/tmp/evil.gguf"
    assert template_origin(Info) == "of SmolLM2 135M (evil.gguf)"
    Info.chat_template_file = "/tmp/t.jinja"
    assert template_origin(Info) == "file /tmp/t.jinja"


def test_a_template_file_is_tried_on_a_sample_conversation(tmp_path):
    path = tmp_path / "t.jinja"
    path.write_text("{% for m in messages %}{{ m.content[0] }}{% endfor %}")
    assert read_template_file(path) == path.read_text()
    for template, said in [(LIMITED["nested loops"][0], "steps"), (ERRORS["ZeroDivisionError"], "ZeroDivisionError"),
                           (ESCAPES["cycler globals"], "refused by the sandbox")]:
        path.write_text(template)
        with pytest.raises(InputError, match=rf"^chat template file {path}: .*{said}"):
            read_template_file(path)


def test_the_sample_conversation_alternates_without_a_system_turn():
    # Gemma 2 refuses a system turn, Mistral wants user/assistant alternating
    assert [m["role"] for m in SAMPLE] == ["user", "assistant", "user"]
