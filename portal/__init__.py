"""The self-service portal and the staff API: FastAPI routes, server-rendered pages, Green Button
export, authentication and authorization."""
