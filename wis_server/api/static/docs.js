// Interactive API documentation rendered from /openapi.json, served by the server itself
// (no CDN: servers may have no internet). Builds DOM with textContent only.

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

function resolve(spec, schema) {
  if (schema && schema.$ref) {
    return resolve(spec, spec.components.schemas[schema.$ref.split("/").pop()]);
  }
  return schema;
}

function example(spec, schema, depth = 0) {
  schema = resolve(spec, schema);
  if (!schema || depth > 4) return null;
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === "object") {
    const out = {};
    for (const name of schema.required || []) {
      out[name] = example(spec, schema.properties[name], depth + 1);
    }
    return out;
  }
  if (type === "array") return [];
  if (type === "integer") return 0;
  if (type === "boolean") return false;
  return "";
}

function operationView(spec, path, method, op) {
  const id = `${method}-${path}`.replace(/[^a-z0-9]+/gi, "-");
  const params = op.parameters || [];
  const inputs = {};
  const body = el("div", { class: "body" });
  if (op.security) body.append(el("p", { class: "hint" }, "Needs a bearer token."));
  for (const param of params) {
    const inputId = `${id}-${param.in}-${param.name}`;
    const input = el("input", { id: inputId, autocomplete: "off" });
    inputs[`${param.in}:${param.name}`] = input;
    body.append(el("div", { class: "param" },
      el("label", { for: inputId }, `${param.name} (${param.in})`), input,
      el("span", { class: "hint" }, param.description || "")));
  }
  let textarea = null;
  if (op.requestBody) {
    const schema = op.requestBody.content["application/json"].schema;
    const textId = `${id}-body`;
    textarea = el("textarea", { id: textId, spellcheck: "false" });
    textarea.value = JSON.stringify(example(spec, schema), null, 2);
    body.append(el("label", { for: textId }, "JSON body"), textarea,
      el("details", {}, el("summary", {}, "Body schema"),
        el("pre", {}, JSON.stringify(resolve(spec, schema), null, 2))));
  }
  const responses = el("pre", {}, JSON.stringify(op.responses, null, 2));
  body.append(el("details", {}, el("summary", {}, "Responses"), responses));
  const output = el("pre", { "aria-live": "polite" });
  const button = el("button", { type: "button" }, "Send");
  button.addEventListener("click", async () => {
    let url = path;
    const query = new URLSearchParams();
    const headers = {};
    for (const param of params) {
      const value = inputs[`${param.in}:${param.name}`].value;
      if (param.in === "path") url = url.replace(`{${param.name}}`, encodeURIComponent(value));
      else if (param.in === "query" && value !== "") query.set(param.name, value);
      else if (param.in === "header" && value !== "") headers[param.name] = value;
    }
    if (query.toString()) url += `?${query}`;
    const token = document.getElementById("token").value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method: method.toUpperCase(), headers, credentials: "same-origin" };
    if (textarea) {
      headers["Content-Type"] = "application/json";
      init.body = textarea.value;
    }
    output.textContent = "…";
    try {
      const response = await fetch(url, init);
      const text = await response.text();
      let shown = text;
      try {
        const parsed = JSON.parse(text);
        shown = JSON.stringify(parsed, null, 2);
        if (parsed.access_token) document.getElementById("token").value = parsed.access_token;
      } catch (_) { /* not JSON */ }
      output.textContent = `${response.status} ${response.statusText}\n${shown}`;
    } catch (error) {
      output.textContent = `request failed: ${error}`;
    }
  });
  body.append(button, output);
  return el("details", { id },
    el("summary", {}, el("span", { class: `method m-${method}` }, method.toUpperCase()),
      el("span", { class: "path" }, path), el("span", {}, op.summary || "")),
    body);
}

async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("info").textContent =
    `${spec.info.title} ${spec.info.version} — ${spec.info.description}`;
  const byTag = new Map();
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, method, op]);
    }
  }
  const main = document.getElementById("operations");
  main.replaceChildren();
  const nav = document.getElementById("tags");
  for (const [tag, ops] of byTag) {
    const anchor = `tag-${tag.replace(/\W+/g, "-")}`;
    nav.append(el("a", { href: `#${anchor}` }, tag));
    const section = el("section", { "aria-labelledby": anchor }, el("h2", { id: anchor }, tag));
    for (const [path, method, op] of ops) section.append(operationView(spec, path, method, op));
    main.append(section);
  }
}

main().catch((error) => {
  document.getElementById("operations").textContent = `Could not load /openapi.json: ${error}`;
});
