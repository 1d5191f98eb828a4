pytest_plugins = ["tests.services", "tests.integration.portal_fixtures", "tests.integration.town_fixtures"]
