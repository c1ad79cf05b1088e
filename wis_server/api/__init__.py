"""HTTP and websocket API: the Starlette app factory (its lifespan enters
`bootstrap.runtime`), routes, auth."""
