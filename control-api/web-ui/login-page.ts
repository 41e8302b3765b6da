/** The sign-in page of the Web UI: self-contained, since nothing behind the gateway is served before sign-in. */
export function loginPage(options: { next: string; error?: string }): string {
  const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tavio · sign in to Temporal</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; color: #1b1f24; }
  label, input, button { display: block; width: 100%; box-sizing: border-box; }
  input { font: inherit; padding: .5rem; margin: .5rem 0 1rem; }
  button { font: inherit; padding: .5rem; cursor: pointer; }
  .error { color: #a40e26; }
</style>
</head>
<body>
<h1>Tavio</h1>
<p>Sign in with an organization or environment API key to see your runs in the Temporal Web UI.</p>
${options.error ? `<p class="error" role="alert">${escape(options.error)}</p>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="next" value="${escape(options.next)}">
  <label for="key">API key</label>
  <input id="key" name="key" type="password" autocomplete="off" required>
  <button type="submit">Sign in</button>
</form>
</body>
</html>
`;
}
