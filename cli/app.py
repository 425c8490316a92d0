import click


@click.group()
def cli() -> None:
    """faultflow."""


def main() -> None:
    cli()
