"""HTTP: the app factory, one router per resource, Leonardo-shaped wire schemas, error bodies, auth."""
