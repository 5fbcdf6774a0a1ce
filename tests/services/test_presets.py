"""services.presets: the packaged fetch presets load, expand, and a broken file says what is wrong."""

from __future__ import annotations

import json

import pytest

from services.fetch import check_url
from services.presets import FetchPreset, PresetError, expand, fetch_presets, find_preset

SERVER = "http://127.0.0.1:5555"
REFUSED = "http://127.0.0.1:6666"


def test_packaged_presets_load_in_order():
    presets = fetch_presets()
    assert [p.id for p in presets] == ["demo", "errors", "internet", "burst"]
    assert all(isinstance(p, FetchPreset) and p.name and p.description for p in presets)


def test_demo_defaults_to_ten_one_second_pages():
    demo = find_preset("demo")
    urls = expand(demo, SERVER, REFUSED)
    assert urls == [f"{SERVER}/delay/1?n={i}" for i in range(10)]
    assert len(set(urls)) == 10  # distinct URLs, so nothing can be cached or merged


def test_demo_takes_count_and_delay():
    assert expand(find_preset("demo"), SERVER + "/", REFUSED, count=3, delay=0.25) == [
        f"{SERVER}/delay/0.25?n={i}" for i in range(3)
    ]


def test_burst_is_n_instant_urls():
    burst = find_preset("burst")
    assert burst.count == 1000 and burst.concurrency == 100
    urls = expand(burst, SERVER, REFUSED)
    assert len(urls) == 1000 and all(u.startswith(f"{SERVER}/instant") for u in urls)


def test_errors_preset_has_every_failure_and_some_good_urls():
    urls = expand(find_preset("errors"), SERVER, REFUSED, count=7, delay=0.2)  # count: not a repeating preset
    joined = "\n".join(urls)
    for part in ("/status/404", "/status/503", "/delay/30", "ftp://", "/bytes/6291456", "/drip?", "/instant"):
        assert part in joined
    assert f"{REFUSED}/" in joined
    assert f"{SERVER}/delay/0.2" in urls
    assert any(" " in u for u in urls)  # the invalid URL


def test_internet_preset_is_public_https_only():
    # Only expanded here, never fetched: tests stay on 127.0.0.1.
    urls = expand(find_preset("internet"), SERVER, REFUSED)
    assert 3 <= len(urls) <= 4
    for url in urls:
        assert url.startswith("https://") and "127.0.0.1" not in url
        check_url(url)


def test_expand_refuses_bad_count_and_delay():
    demo = find_preset("demo")
    with pytest.raises(ValueError, match="count"):
        expand(demo, SERVER, REFUSED, count=0)
    with pytest.raises(ValueError, match="delay"):
        expand(demo, SERVER, REFUSED, delay=31)


def test_unknown_preset_id():
    with pytest.raises(KeyError, match="nope"):
        find_preset("nope")


def write(tmp_path, content):
    path = tmp_path / "fetch.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


GOOD = {"id": "x", "name": "X", "urls": ["{server}/instant"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ({"presets": []}, 'expected an object with a non-empty list "presets"'),
        ([1, 2], 'expected an object with a non-empty list "presets"'),
        ({"presets": ["demo"]}, "preset #1: expected an object, got str"),
        ({"presets": [{"name": "X", "urls": ["http://a/"]}]}, 'preset #1: missing "id"'),
        (
            {"presets": [GOOD, {**GOOD, "id": "y", "urls": []}]},
            "preset #2 ('y'): \"urls\" must be a non-empty",
        ),
        ({"presets": [{**GOOD, "urls": "http://a/"}]}, '"urls" must be list, got "http://a/"'),
        ({"presets": [{**GOOD, "count": "10"}]}, '"count" must be int, got "10"'),
        ({"presets": [{**GOOD, "count": True}]}, '"count" must be int, got true'),
        ({"presets": [{**GOOD, "repeat": 1}]}, '"repeat" must be bool, got 1'),
        ({"presets": [{**GOOD, "delay": 99}]}, '"delay" must be from 0 to 30'),
        ({"presets": [{**GOOD, "urls": ["{host}/x"]}]}, "unknown placeholder {host} in '{host}/x'"),
        ({"presets": [{**GOOD, "urls": ["{server/x"]}]}, "bad URL template '{server/x'"),
        ({"presets": [{**GOOD, "urls": ["{delay:.1f}"]}]}, "placeholders take no format spec"),
        ({"presets": [GOOD, GOOD]}, "duplicate preset id 'x'"),
    ],
)
def test_a_malformed_file_gives_a_clear_preset_error(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(PresetError) as info:
        fetch_presets(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)  # and says which file


def test_a_missing_file_is_a_preset_error(tmp_path):
    with pytest.raises(PresetError, match="cannot read"):
        fetch_presets(tmp_path / "absent.json")


def test_a_minimal_file_gets_defaults(tmp_path):
    (preset,) = fetch_presets(write(tmp_path, {"presets": [GOOD]}))
    assert preset == FetchPreset("x", "X", "", ("{server}/instant",), False, 1, 1.0, None)
    assert expand(preset, SERVER, REFUSED, count=5) == [f"{SERVER}/instant"]
