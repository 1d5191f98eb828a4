"""Head-end file formats: CMEP, Green Button (ESPI) and CSV parsed and scaled exactly."""
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from simulators.files import day_blocks, write_cmep, write_csv, write_espi
from simulators.utility import make_utility
from meterdata.formats import cmep, csv_reads, espi
from meterdata.formats.scaling import MeterUnit, to_blocks, to_register
from meterdata.formats.series import ESTIMATED_AT_SOURCE, Rejected

ZONE = "America/Chicago"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


def reads_of(blocks):
    return {(b.meter_id, b.channel, b.start + k * b.interval_s): (int(v), int(q))
            for b in blocks for k, (v, q) in enumerate(zip(b.values, b.quality))}


def converted(parsed, units):
    blocks, rejected = [], list(parsed.rejected)
    for series in parsed.series:
        result = to_blocks(series, units[series.source_id])
        blocks += result.blocks
        rejected += result.rejected
    return blocks, rejected


@pytest.mark.parametrize("first_day", [date(2026, 10, 31), date(2027, 3, 13)], ids=["fall-back", "spring-forward"])
@pytest.mark.parametrize("kind", ["cmep", "csv", "greenbutton"])
def test_every_simulated_read_comes_back_exactly_across_dst(tmp_path, kind, first_day):
    utility = make_utility(meters=8, seed=3, zone=ZONE)
    blocks = list(day_blocks(utility, first_day, 3))
    units = {m.meter_no: MeterUnit(m.meter_no, m.unit, m.power_of_ten, m.interval_s, ZONE) for m in utility.meters}
    path = str(tmp_path / f"reads.{kind}")
    if kind == "cmep":
        write_cmep(path, utility, blocks)
        parsed = cmep.parse(open(path))
    elif kind == "csv":
        write_csv(path, utility, blocks)
        parsed = csv_reads.parse(open(path, newline=""))
    else:
        write_espi(path, utility, blocks)
        parsed = espi.parse(path)
    got, rejected = converted(parsed, units)
    assert rejected == []
    expected = reads_of(b for _, b in blocks)
    assert reads_of(got) == expected
    day_counts = {len(b.values) * b.interval_s for _, b in blocks}
    assert day_counts == {23 * 3600, 24 * 3600} if first_day.month == 3 else {24 * 3600, 25 * 3600}


def test_cmep_triples_times_quality_constant_and_bad_records(tmp_path):
    lines = [
        # hourly, interval-ending, a blank stamp (= previous + 1 h), an estimated and a missing value
        "MEPMD01,20080501,HE,UT,C1,X,202611021200,W1,OK,W,GAL,1.0,00000100,4,"
        "202611020100,R0,12.5,,R0,3,202611020300,E,4,202611020400,N,",
        "MEPMD01,20080501,HE,UT,C1,X,202611021200,W1,OK,W,GAL,1.0,00000100,3,202611020100,R0,1",  # truncated
        "MEPMD01,20080501,HE,UT,C1,X,202611021200,W1,OK,W,LITRE,1.0,00000100,1,202611020100,R0,1",
        "MEPMD01,20080501,HE,UT,C1,X,202611021200,W1,SUMMARY,W,GAL,1.0,00000100,1,202611020100,R0,1",
        "MEPAD01,19970912,HE",
        "MEPMD01,20080501,HE,UT,C1,X,202611021200,E1,OK,E,KWH,2.5,00000015,2,202611020015,A,0.4,202611020030,R0,1.2",
        "MEPMD01,20080501,HE,UT,C1,X,202611021200,W1,OK,W,GALREG,1.0,00000100,2,202611020000,R0,1000.5,"
        "202611030000,R0,1100",
    ]
    parsed = cmep.parse(lines)
    assert parsed.records == 7
    assert [(r.line, r.reason) for r in parsed.rejected] == [
        (2, "count_mismatch"), (3, "unknown_unit"), (4, "unsupported_purpose"), (5, "unsupported_record")]
    water, electric = parsed.series
    assert (water.unit, water.power_of_ten, water.values, water.quality) == ("gal", -1, [125, 30, 40],
                                                                             [0, 0, ESTIMATED_AT_SOURCE])
    assert [t.hour for t in water.local_times] == [1, 2, 3]  # interval ends; the 04:00 value was not there
    # 0.4 kWh x 2.5 = 1 kWh = 1000 Wh, 1.2 x 2.5 = 3 kWh: exact
    assert (electric.unit, electric.interval_s) == ("Wh", 900)
    assert [v * 10 ** (electric.power_of_ten) for v in electric.values] == [1000, 3000]
    assert [(r.value, r.power_of_ten, r.local_read_at.day) for r in parsed.registers] == [(10005, -1, 2), (11000, -1, 3)]

    meter = MeterUnit("W1", "gal", -1, 3600, ZONE)
    result = to_blocks(water, meter)
    starts = [b.start for b in result.blocks]
    # 01:00 local ends the first interval: it starts at midnight; the missing 04:00 value leaves no gap
    # inside the block because it was the last one
    assert starts == [int(datetime(2026, 11, 2, 0, tzinfo=ZoneInfo(ZONE)).timestamp())]
    assert list(result.blocks[0].values) == [125, 30, 40]


def test_cmep_sample_file_reads_and_registers():
    sample = SAMPLES / "cmep" / "STAHO_IntervalReport_202606030815_B74741489.cmep.txt"
    if not sample.exists():
        pytest.skip("shared samples not present")
    parsed = cmep.parse(open(sample))
    assert parsed.rejected == []
    (series,) = parsed.series
    meter = MeterUnit("B74741489", "ft3", -1, 3600, "America/Los_Angeles")
    result = to_blocks(series, meter)
    assert result.rejected == [] and result.reads == 24
    assert sum(int(b.values.sum()) for b in result.blocks) == 4790  # 479 ft3 in 0.1 ft3
    # the register moved by what the intervals add up to
    first, last = (to_register(r, meter) for r in parsed.registers)
    assert last.value - first.value == 4790
    assert first.read_at == datetime(2026, 6, 2, 14, 0, tzinfo=timezone.utc)


FEED = """<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom">
 <entry><link rel="self" href="UsagePoint/R"/><content><UsagePoint xmlns="http://naesb.org/espi"/></content></entry>
 <entry><link rel="self" href="ReadingType/A"/><content><ReadingType xmlns="http://naesb.org/espi">
   <flowDirection>1</flowDirection><intervalLength>3600</intervalLength><powerOfTenMultiplier>-3</powerOfTenMultiplier>
   <uom>72</uom></ReadingType></content></entry>
 <entry><link rel="self" href="ReadingType/B"/><content><ReadingType xmlns="http://naesb.org/espi">
   <flowDirection>19</flowDirection><powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom></ReadingType>
 </content></entry>
 <entry><link rel="self" href="UsagePoint/R/MeterReading/R"/><link rel="up" href="UsagePoint/R/MeterReading"/>
   <link rel="related" href="ReadingType/A"/><content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>
 <entry><link rel="up" href="UsagePoint/R/MeterReading/R/IntervalBlock"/><content>
   <IntervalBlock xmlns="http://naesb.org/espi">
    <IntervalReading><timePeriod><duration>3600</duration><start>1700002800</start></timePeriod><value>2000</value>
    </IntervalReading>
    <IntervalReading><ReadingQuality><quality>8</quality></ReadingQuality>
     <timePeriod><duration>3600</duration><start>1699999200</start></timePeriod><value>1000</value></IntervalReading>
    <IntervalReading><ReadingQuality><quality>12</quality></ReadingQuality>
     <timePeriod><duration>3600</duration><start>1700006400</start></timePeriod><value>5</value></IntervalReading>
   </IntervalBlock></content></entry>
 <entry><link rel="self" href="UsagePoint/R/MeterReading/R"/><link rel="up" href="UsagePoint/R/MeterReading"/>
   <link rel="related" href="ReadingType/B"/><content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>
 <entry><link rel="up" href="UsagePoint/R/MeterReading/R/IntervalBlock"/><content>
   <IntervalBlock xmlns="http://naesb.org/espi">
    <IntervalReading><timePeriod><duration>3600</duration><start>1699999200</start></timePeriod><value>7</value>
    </IntervalReading></IntervalBlock></content></entry>
"""


def test_espi_links_redacted_addresses_order_quality_and_flow(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text(FEED + "</feed>\n")
    parsed = espi.parse(str(path))
    projected_line = next(n for n, text in enumerate(FEED.splitlines(), start=1) if "<quality>12" in text)
    assert [(r.reason, r.line) for r in parsed.rejected] == [("projected_reading", projected_line)]
    forward, reverse = parsed.series
    # both MeterReadings have the same (redacted) address: each block takes the one before it
    assert (forward.channel, forward.unit, forward.power_of_ten) == (1, "Wh", -3)
    assert (reverse.channel, reverse.values) == (2, [7])
    meter = MeterUnit("E9", "Wh", 0, 3600, ZONE)
    (block,) = to_blocks(forward, meter).blocks  # newest-first readings come out in time order
    assert (block.start, list(block.values), list(block.quality)) == (1699999200, [1, 2], [ESTIMATED_AT_SOURCE, 0])


def test_espi_broken_xml_keeps_what_came_before_and_says_where(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text(FEED + "<entry><content><IntervalBlock xmlns='http://naesb.org/espi'><oops></entry>")
    parsed = espi.parse(str(path))
    assert [r.reason for r in parsed.rejected] == ["bad_xml", "projected_reading"]
    assert parsed.rejected[0].line == FEED.count("\n") + 1
    assert len(parsed.series) == 2


def test_espi_refuses_entities():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content>&b;</content></entry></feed>')
    import io
    parsed = espi.parse(io.BytesIO(bomb))
    assert parsed.series == [] and parsed.registers == []


@pytest.mark.parametrize("name, service, unit, power, channels, reads", [
    ("gba_openespi_test_usage_data.xml", "electric", "Wh", 0, {1}, 13 * 96 + 92),
    ("utilityapi_intervals_APUC000000_electric.xml", "electric", "Wh", 0, {1}, 300),
    ("pge_electric_hourly_fwd_rev_eemeter.xml", "electric", "Wh", -3, {1, 2}, 94),
    ("pge_gas_daily_eemeter.xml", "gas", "therm", -8, {1}, 2),
])
def test_espi_sample_files(name, service, unit, power, channels, reads):
    sample = SAMPLES / "greenbutton" / name
    if not sample.exists():
        pytest.skip("shared samples not present")
    parsed = espi.parse(str(sample))
    assert parsed.rejected == []
    meter = MeterUnit("M1", unit, power, parsed.series[0].interval_s, "America/Los_Angeles")
    results = [to_blocks(s, meter, snap_seconds=1) for s in parsed.series]
    assert [r for result in results for r in result.rejected] == []
    assert {s.channel for s in parsed.series} == channels
    assert sum(r.reads for r in results) == reads
    if "gas" in name:  # PG&E starts its daily intervals one second after midnight
        assert sum(r.snapped for r in results) == 2
        assert all(datetime.fromtimestamp(b.start, ZoneInfo("America/Los_Angeles")).hour == 0
                   for r in results for b in r.blocks)


def test_csv_columns_times_registers_and_bad_rows():
    text = ["meter_id,start,value,kind,quality,channel",
            "E1,2026-11-02T00:00:00-06:00,1.5,,,",
            "E1,2026-11-02 00:15,2,interval,estimated,1",
            "E1,yesterday,2,,,",
            "E1,2026-11-02T00:30:00-06:00,abc,,,",
            "E1,2026-11-02T00:30:00-06:00,1,,,,",
            ",2026-11-02T00:30:00-06:00,1,,,",
            "E1,2026-11-02T00:45:00-06:00,1,lunch,,",
            "E1,2026-11-03T08:00:00-06:00,12345.6,register,,",
            ""]
    parsed = csv_reads.parse(text)
    assert [(r.line, r.reason) for r in parsed.rejected] == [
        (4, "bad_timestamp"), (5, "bad_value"), (6, "bad_row"), (7, "no_meter"), (8, "bad_kind")]
    meter = MeterUnit("E1", "Wh", 0, 900, ZONE)
    blocks, rejected = converted(parsed, {"E1": meter})
    # 1.5 Wh does not fit a meter that counts whole Wh: refused, never rounded
    assert [(r.line, r.reason) for r in rejected if r.reason == "resolution"] == [(2, "resolution")]
    assert reads_of(blocks) == {("E1", 1, int(datetime(2026, 11, 2, 0, 15, tzinfo=ZoneInfo(ZONE)).timestamp())):
                                (2, ESTIMATED_AT_SOURCE)}
    (register,) = parsed.registers
    assert to_register(register, MeterUnit("E1", "Wh", -1, 900, ZONE)).value == 123456
    assert isinstance(to_register(register, meter), Rejected)


def test_csv_header_must_name_the_columns():
    parsed = csv_reads.parse(["meter,when,value"])
    assert [(r.line, r.reason) for r in parsed.rejected] == [(1, "bad_header")]
    assert "meter_id" in parsed.rejected[0].detail and "when" in parsed.rejected[0].detail


def test_scaling_units_gaps_and_snap():
    from meterdata.formats.series import SourceSeries

    start = int(datetime(2026, 11, 2, tzinfo=ZoneInfo(ZONE)).timestamp())
    series = SourceSeries("W1", 1, "gal", 3600, 1, 0, starts=[start, start + 3600, start + 3 * 3600 + 1],
                          values=[1, 2, 3], quality=[0, 0, 0])
    assert to_blocks(series, MeterUnit("W1", "ft3", -1, 3600, ZONE)).rejected[0].reason == "unit_mismatch"
    result = to_blocks(series, MeterUnit("W1", "gal", -1, 3600, ZONE), snap_seconds=2)
    assert result.snapped == 1
    assert [(b.start - start, list(b.values)) for b in result.blocks] == [(0, [10, 20]), (3 * 3600, [30])]
    big = SourceSeries("W1", 1, "gal", 3600, 1, 0, starts=[start], values=[2**60], quality=[0])
    assert to_blocks(big, MeterUnit("W1", "gal", -1, 3600, ZONE)).rejected[0].reason in ("resolution",
                                                                                          "value_out_of_range")
    assert np.int64  # numpy columns are what the blocks carry


def test_register_reads_of_a_hand_read_meter_spread_over_days_exactly():
    from meterdata.formats.registers import spread
    from meterdata.formats.scaling import Register

    zone = ZoneInfo(ZONE)

    def read(day, hour, value):
        return Register("W1", 1, datetime(2026, 10, day, hour, tzinfo=zone).astimezone(timezone.utc), value, 0)

    previous = read(28, 9, 1000)
    reads = [(read(31, 15, 1000 + 10), 5), (read(31, 18, 1015), 6), (read(30, 8, 1003), 4),
             (read(30, 20, 900), 7)]
    # the Nov 3 read spans the fall-back day
    reads.append((Register("W1", 1, datetime(2026, 11, 3, 10, tzinfo=zone).astimezone(timezone.utc), 1022, 0), 8))
    blocks, rejected = spread(previous, reads, ZONE)
    assert [(r.line, r.reason) for r in rejected] == [(7, "register_backwards")]
    days = [(datetime.fromtimestamp(b.start, zone).date().isoformat(), int(b.values[0])) for b in blocks]
    # 28th -> 30th: 3 over 2 days; 30th -> 31st: 7 (the 31st's second read waits for the day to end);
    # 31st -> Nov 3: 12 over 3 days
    assert days == [("2026-10-28", 2), ("2026-10-29", 1), ("2026-10-30", 7), ("2026-10-31", 4),
                    ("2026-11-01", 4), ("2026-11-02", 4)]
    assert sum(v for _, v in days) == 1022 - 1000  # every unit of the register once
    assert all(datetime.fromtimestamp(b.start, zone).hour == 0 and b.interval_s == 86400 for b in blocks)
    assert {int(b.quality[0]) for b in blocks} == {4}


def test_reads_the_pipeline_would_hold_back_are_rejected_at_import_with_their_lines():
    from meterdata.formats.series import SourceSeries

    zone = "America/Chicago"
    midnight = int(datetime(2026, 10, 20, tzinfo=ZoneInfo(zone)).timestamp())
    meter = MeterUnit("G1", "therm", -3, 86400, zone)
    late = SourceSeries("G1", 1, "", 86400, line=7, starts=[midnight + 1 + d * 86400 for d in range(3)],
                        values=[5, 6, 7], quality=[0, 0, 0], lines=[7, 8, 9])  # 1 s off the grid
    result = to_blocks(late, meter)
    assert result.blocks == [] and result.reads == 0
    assert [(r.line, r.reason) for r in result.rejected] == [(7, "misaligned")] and "3 reads" in result.rejected[0].detail
    fixed = to_blocks(late, meter, snap_seconds=1)
    assert fixed.rejected == [] and fixed.reads == 3
    hourly = SourceSeries("G1", 1, "", 3600, line=3, starts=[midnight], values=[1], quality=[0])
    (refused,) = to_blocks(hourly, meter).rejected
    assert refused.reason == "interval_mismatch" and refused.line == 3
