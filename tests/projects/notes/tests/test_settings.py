from notes import settings


def test_the_tests_run_against_the_test_database() -> None:
    assert settings.DATABASE_URL == "sqlite:///var/test.db"
