"""`gankit serve`: an offline web page and HTTP API over trained runs (the `serve` extra: FastAPI + uvicorn).

registry: the runs the server was given, their families and views, a bounded cache of loaded models;
limits: request caps, safe image uploads, a bounded worker pool (503 when full); latent: GANSpace directions,
interpolation and the projection of a sketch; app: the FastAPI routes; static/: the page (no build step).
"""
