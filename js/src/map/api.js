// The map page's questions to the API (/graphql): the subgraph around some articles,
// the article a map starts from, and the search box's ranked search.

const SERVER_LAYOUT_MAX = 500; // the server's SPRING bound; bigger maps use ForceAtlas2

const ARTICLE_FIELDS = `title excerpt publishedAt isStub url
  provider { name domain } topics { name } cluster pagerank degree`;
const SUBGRAPH = `query Map($urls: [String!]!, $depth: Int!, $kinds: [EdgeKind!], $limit: Int!,
    $layout: Layout, $fixed: [FixedPosition!]) {
  subgraph(urls: $urls, depth: $depth, edgeKinds: $kinds, limit: $limit, layout: $layout,
      fixed: $fixed) {
    truncated omitted
    nodes { key kind label x y distance article { ${ARTICLE_FIELDS} } }
    edges { source target kind }
  }
  analytics { version }
}`;

async function gql(query, variables) {
  const r = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  return body.data;
}

function unpack(data) {
  return { ...data.subgraph, analyticsVersion: data.analytics.version };
}

/** The subgraph within ``depth`` of ``urls`` over the edge kinds and size limit of the
 *  view ``state``; nodes at ``fixed`` positions keep them when the server lays it out. */
export async function fetchSubgraph(state, urls, depth, fixed) {
  const variables = { urls, depth, kinds: state.edges, limit: state.limit, fixed };
  // The server lays out up to SERVER_LAYOUT_MAX nodes (spring, fixed seed); past that
  // it refuses and the page lays out with ForceAtlas2 in a worker.
  variables.layout = state.limit <= SERVER_LAYOUT_MAX ? "SPRING" : null;
  try {
    return unpack(await gql(SUBGRAPH, variables));
  } catch (err) {
    if (!variables.layout || !/handles at most/.test(err.message)) throw err;
    return unpack(await gql(SUBGRAPH, { ...variables, layout: null }));
  }
}

/** The URL of the article with the most related links (where a map with no URL starts),
 *  or null when the corpus has no articles. */
export async function featuredUrl() {
  const data = await gql("{ featured: articles(first: 1, orderBy: RELATED_COUNT_DESC) { edges { node { url } } } }");
  const first = data.featured.edges[0];
  return first ? first.node.url : null;
}

/** The search box's answers: the API's ranked full-text `search` (BM25 over title,
 *  excerpt, body, provider and topics; words in any order); the word being typed counts
 *  as a prefix. */
export async function search(q) {
  const typing = /[\p{L}\p{N}]$/u.test(q) ? `${q}*` : q;
  const data = await gql(
    `query S($q: String!) { search(query: $q, first: 10)
      { edges { node { url title isStub provider { name } } } } }`,
    { q: typing },
  );
  return data.search.edges.map((e) => e.node);
}
