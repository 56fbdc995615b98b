"""The demo's agents: async tasks that take work from the gateway."""
