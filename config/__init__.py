"""Settings from the environment and .env, and the defaults tertulia ships with."""
