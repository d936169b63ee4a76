"""The demo world `make run` serves: users, merchants, a trained model, a history."""
