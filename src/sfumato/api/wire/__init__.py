"""Leonardo's wire format beyond the REST schemas (api/schemas/): the names of accepted options and the webhook
bodies. Every Leonardo key name lives in api/; services and the database use our own names."""
