"""The default corpus over a real server: what a newcomer sees first."""

SEED_DOC = (
    "https://www.biometricupdate.com/202011/"
    "french-politicians-call-for-face-biometrics-and-ai-surveillance-tools-to-tackle-terrorism"
)
STUB_CDN = (
    "https://www-itproportal-com.cdn.ampproject.org/c/s/www.itproportal.com/amp/features/"
    "do-old-fashioned-passwords-have-a-place-in-the-world-of-facial-recognition-and-biometrics/"
)


def test_seed_counts(seeds_server):
    s = seeds_server.data(
        "{ stats { articles documents stubs providers topics relatedEdges loadErrors } }"
    )["stats"]
    assert s == {
        "articles": 4,
        "documents": 2,
        "stubs": 2,
        "providers": 4,
        "topics": 2,
        "relatedEdges": 2,
        "loadErrors": 0,
    }


def test_mojibake_repaired_on_stub_found_by_amp_cache_url(seeds_server):
    a = seeds_server.data(
        "query($u: String!) { article(url: $u) { isStub excerpt relatedBy { url } } }",
        {"u": STUB_CDN},
    )["article"]
    assert a["isStub"] is True
    assert "we’ve seen" in a["excerpt"] and "â€" not in a["excerpt"]
    assert [r["url"] for r in a["relatedBy"]] == [SEED_DOC]


def test_graphiql_for_browsers_and_sdl(seeds_server):
    r = seeds_server.client.get("/graphql", headers={"accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()
    sdl = seeds_server.client.get("/schema.graphql")
    assert sdl.status_code == 200 and "type Query" in sdl.text
    assert seeds_server.client.get("/healthz").json() == {"status": "ok"}
