"""HTTP and websocket API: the Starlette app factory and composition root, routes, auth."""
