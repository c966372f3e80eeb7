"""The connector and the rate card, on a handful of real rows checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from olist_rows import write_extract

from core.olist.extract import cents, local_time, read_extract
from core.olist.mapping import UNKNOWN_ITEM, UNKNOWN_SELLER, map_extract
from core.olist.ratecard import MIN_SAMPLES, build_rate_card, co2_grams, distance_km

LATE = "f3c19ec2622d12aafeb4c32621b951b2"


def test_local_timestamps_are_read_as_utc_minus_three_and_stored_in_utc() -> None:
    assert local_time("2018-01-10 00:00:00") == datetime(2018, 1, 10, 3, 0, tzinfo=UTC)
    assert local_time("2017-09-08 20:35:27.276847") == datetime(2017, 9, 8, 23, 35, 27, 276847, tzinfo=UTC)
    assert local_time("") is None


def test_money_is_integer_cents_and_a_fraction_of_a_cent_is_refused() -> None:
    assert cents("119.9") == 11_990
    assert cents("18.09") == 1_809
    try:
        cents("1.005")
    except ValueError as why:
        assert "whole cents" in str(why)
    else:
        raise AssertionError("a fraction of a cent was accepted")


def test_an_order_maps_to_the_domain_with_its_promise_fee_lines_and_customer(olist_root: Path) -> None:
    extract = read_extract(olist_root)
    mapped = map_extract(extract, build_rate_card(extract))
    order = next(o for o in mapped.orders if o.id == LATE)
    assert order.customer_id == "165fa6c178075605309f0f6a46ee6e04"  # the unique id, not the per-order one
    assert order.ship_region == "ES"
    assert order.promised_by == datetime(2018, 1, 10, 3, 0, tzinfo=UTC)  # midnight local of the estimate
    assert order.fee_cents == 1_809
    (line,) = order.lines
    assert (line.sku, line.seller, line.qty, line.unit_price_cents) == (
        "821a07e1e2a0382df1f3761ae3cd435c", "da8622b14eb17ae2831f4ac5b9dab84a", 1, 11_990)
    assert line.shipping_limit_at == datetime(2017, 12, 19, 16, 12, 6, tzinfo=UTC)
    assert order.late
    seller = next(x for x in mapped.locations if x["id"] == line.seller)
    assert (seller["kind"], seller["region"]) == ("seller", "SP")
    product = next(p for p in mapped.products if p["sku"] == line.sku)
    assert product["category"] == "bed_bath_table"


def test_orders_enter_in_purchase_time_order(olist_root: Path) -> None:
    extract = read_extract(olist_root)
    mapped = map_extract(extract, build_rate_card(extract))
    times = [o.placed_at for o in mapped.orders]
    assert times == sorted(times)
    assert mapped.orders[0].id == "a39d3db795a5cf4c8b6c9dd050f0d326"


def test_an_unavailable_order_without_items_gets_one_placeholder_line_and_is_counted(olist_root: Path) -> None:
    extract = read_extract(olist_root)
    mapped = map_extract(extract, build_rate_card(extract))
    order = next(o for o in mapped.orders if o.status == "unavailable")
    assert [(x.sku, x.seller, x.unit_price_cents) for x in order.lines] == [(UNKNOWN_ITEM, UNKNOWN_SELLER, 0)]
    assert mapped.adjusted["unavailable order without items: one placeholder line of value 0"] == 1


def test_rows_that_cannot_be_mapped_are_counted_by_reason_never_dropped_silently(tmp_path: Path) -> None:
    root = write_extract(tmp_path / "olist", extra_orders=(
        "b5359909123fa03c50bdb0cfed07f098,438449d4af8980d107bf04571413a8e7,created,2017-12-05 01:07:52,,,,"
        "2018-01-11 00:00:00\n"
        "0000000000000000000000000000dead,9ef432eb6251297304e76186b10a928d,delivered,yesterday,,,,2018-01-11\n"))
    extract = read_extract(root)
    mapped = map_extract(extract, build_rate_card(extract))
    assert mapped.rejects == {"orders: customer not in the extract": 1, "orders: unparseable timestamp": 1}
    assert len(mapped.orders) == 6
    # Complaints: the satisfied review is not a complaint; both complaints are mapped to their own orders.
    assert [(r.review_id, r.label) for r in mapped.reviews] == [("1192", "entrega_parcial"),
                                                                 ("3345", "diferente_do_anunciado")]
    partial = mapped.reviews[0]
    assert (partial.qty, partial.unit_price_cents, partial.fee_cents) == (2, 18_940, 2_692)
    assert partial.claim == "comprei dois toners e só veio um"


def test_the_rate_card_is_medians_of_the_data_and_says_how_a_thin_pair_falls_back(olist_root: Path) -> None:
    extract = read_extract(olist_root)
    card = build_rate_card(extract)
    # Three delivered orders with hand-off and delivery: SP→ES, SP→SP, SP→SP; every pair has fewer than MIN_SAMPLES.
    assert card.samples == 3 < MIN_SAMPLES
    rate = card.rate("SP", "ES")
    assert (rate.source, rate.samples) == ("national", 1)
    # Hand-off → delivery: 685.7 h, 22.9 h and 145.5 h; the median is 145.5 h. Freight 18.09, 34.19, 8.72 → 18.09.
    assert rate.transit_hours == 145.5
    assert rate.cost_cents == 1_809
    # The only parcel still undelivered 4 h past its promise arrived 70.3 h after that moment.
    assert rate.overdue_hours == 70.3
    assert rate.co2_grams == co2_grams("SP", "ES") == round(distance_km("SP", "ES") * 10)


def test_co2_comes_from_the_distance_between_state_centroids_with_a_floor_for_same_state_legs() -> None:
    assert 600 < distance_km("SP", "RJ") < 640  # 6° of longitude at 22° S
    assert co2_grams("SP", "SP") == 500  # 50 km × 10 g/km
    assert co2_grams("RS", "RR") > co2_grams("SP", "RJ")
