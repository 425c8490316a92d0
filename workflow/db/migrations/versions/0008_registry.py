"""The registry: the network the contract maintains — vendors, units (with their customer
manager), their sites, leased lines and devices — and the hash-chained log of its changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _changed() -> list[sa.Column]:
    return [
        sa.Column("archived_us", sa.BigInteger(), nullable=True),
        sa.Column("changed_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "vendors",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("hotline", sa.String(), nullable=True),
        sa.Column("contacts", sa.Text(), nullable=False),
        *_changed(),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "units",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("contacts", sa.Text(), nullable=False),
        sa.Column("manager", sa.String(), nullable=True),
        *_changed(),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "sites",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), sa.ForeignKey("units.code"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=True),
        *_changed(),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_sites_unit", "sites", ["unit"])
    op.create_table(
        "lines",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), sa.ForeignKey("units.code"), nullable=False),
        sa.Column("site", sa.String(), sa.ForeignKey("sites.code"), nullable=True),
        sa.Column("carrier", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("a_end", sa.String(), nullable=True),
        sa.Column("b_end", sa.String(), nullable=True),
        *_changed(),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_lines_unit", "lines", ["unit"])
    op.create_table(
        "devices",
        sa.Column("serial", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), sa.ForeignKey("units.code"), nullable=False),
        sa.Column("site", sa.String(), sa.ForeignKey("sites.code"), nullable=True),
        sa.Column("vendor", sa.String(), sa.ForeignKey("vendors.code"), nullable=True),
        sa.Column("warranty_end", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        *_changed(),
        sa.PrimaryKeyConstraint("serial"),
    )
    op.create_index("ix_devices_unit", "devices", ["unit"])
    op.create_index("ix_devices_name", "devices", ["name"])
    op.create_table(
        "registry_log",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )


def downgrade() -> None:
    op.drop_table("registry_log")
    op.drop_index("ix_devices_name", table_name="devices")
    op.drop_index("ix_devices_unit", table_name="devices")
    op.drop_table("devices")
    op.drop_index("ix_lines_unit", table_name="lines")
    op.drop_table("lines")
    op.drop_index("ix_sites_unit", table_name="sites")
    op.drop_table("sites")
    op.drop_table("units")
    op.drop_table("vendors")
