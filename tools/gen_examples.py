#!/usr/bin/env python3
"""Generate the synthetic example exports in examples/translate/ (deterministic, seed 2026).
Every person, number and address here is invented. BSNs are generated to pass the elfproef.
Needs openpyxl (pip install openpyxl) for the Sonar-style workbook.
Usage: python3 tools/gen_examples.py
"""
import csv, datetime, io, pathlib, random
from xml.sax.saxutils import escape

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "examples/translate"
rnd = random.Random(2026)

# PC4 areas that are in crates/vum/data/postcodes-pc4.csv
PC4 = ["3011", "3012", "1012", "1071", "9711", "5611", "6811", "2511", "3511", "7511", "8011", "4811"]
FIRST = ["Jan", "Fatima", "Sanne", "Mohamed", "Eva", "Daan", "Noor", "Ahmet", "Lotte", "Kees", "Anouk", "Bram", "Yara", "Thijs", "Zeynep"]
LAST = ["de Vries", "Jansen", "Bakker", "El Amrani", "Visser", "Smit", "Yilmaz", "de Boer", "Mulder", "van Dijk", "Bos", "Hoekstra"]
STRATEN = ["Coolsingel", "Damrak", "Grote Markt", "Stationsweg", "Kerkstraat", "Molenweg"]
BEROEPEN = ["Magazijnmedewerker", "Verzorgende IG", "Schoonmaker", "Chauffeur", "Administratief medewerker", "Kok", "Beveiliger"]

def bsn():
    while True:
        d = [rnd.randint(0, 9) for _ in range(8)]
        s = sum(x * (9 - i) for i, x in enumerate(d))
        last = s % 11
        if last < 10 and not (d[0] == 0 and d[1] == 0):
            b = "".join(map(str, d + [last]))
            return b

def postcode(spaced=True):
    letters = rnd.choice("ABCDEFGHJKLMNPRTVWXZ") + rnd.choice("ABCDEFGHJKLMNPRTVWXZ")
    return rnd.choice(PC4) + (" " if spaced else "") + letters

def phone():
    return "06-" + "".join(str(rnd.randint(0, 9)) for _ in range(8))

def naam():
    return f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"

def email(n):
    return n.lower().replace(" ", ".") + "@example.nl"

def sonar():
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Export"
    cols = ["Datum melding", "BSN", "ID_WZ", "Beschikbare uren/wk", "Opleidingsniveau", "Beroepssector", "Bemiddelingsberoep",
            "Mondeling Nederlands", "Schriftelijk Nederlands", "Rijbewijs", "Telefoonnummer", "Volledige Naam", "E-mailadres",
            "Vervoer", "Gemeente", "Postcode", "Plaats", "Straatnaam", "Huisnummer", "Banenafspraak", "Participatieladder",
            "Medewerker Naam", "Organisatie Naam", "Toestemming"]
    ws.append(cols)
    for i in range(1, 25):
        n = naam()
        row = {
            "Datum melding": datetime.date(2026, rnd.randint(1, 10), rnd.randint(1, 28)),
            "BSN": bsn(), "ID_WZ": f"WZ{10000 + i}", "Beschikbare uren/wk": float(rnd.choice([16, 24, 32, 36, 40])),
            "Opleidingsniveau": rnd.choice(["VMBO", "MBO", "HBO", "HAVO/VWO", "Basisonderwijs"]),
            "Beroepssector": rnd.choice(["Zorg", "Logistiek", "Schoonmaak", "Horeca"]),
            "Bemiddelingsberoep": rnd.choice(BEROEPEN), "Mondeling Nederlands": rnd.randint(1, 4), "Schriftelijk Nederlands": rnd.randint(1, 4),
            "Rijbewijs": rnd.choice(["B", "B, BE", "", "AM", "C, CE"]), "Telefoonnummer": phone(), "Volledige Naam": n,
            "E-mailadres": email(n), "Vervoer": rnd.choice(["Auto", "Fiets", "OV", "Fiets, OV"]), "Gemeente": "Rotterdam",
            "Postcode": postcode(), "Plaats": "Rotterdam", "Straatnaam": rnd.choice(STRATEN), "Huisnummer": rnd.randint(1, 300),
            "Banenafspraak": rnd.choice(["Ja", "Nee"]), "Participatieladder": rnd.randint(1, 6), "Medewerker Naam": naam(),
            "Organisatie Naam": "Gemeente Voorbeeld", "Toestemming": "Ja" if i % 6 else "Nee",
        }
        if i == 7:
            row["Bemiddelingsberoep"] = "Ruimtevaarder"       # not in the lookup: rejected
        if i == 11:
            row["Toestemming"] = "Ja, geen contact"           # shared, but no contact details
        if i == 13:
            row["BSN"] = "123456789"                           # fails the elfproef: rejected
        ws.append([row[c] for c in cols])
        ws.cell(row=ws.max_row, column=1).number_format = "dd-mm-yyyy"
    wb.save(OUT / "sonar/sonar-export.xlsx")

def cp1252():
    rows = [["klantnummer", "bsn", "postcode", "uren_per_week", "rijbewijzen", "opleiding", "beroep", "toelichting", "beschikbaar_vanaf", "toestemming_delen", "naam"]]
    toel = ["Ervaring in de thuiszorg, ook ’s avonds.", "Heeft een café gerund; zoekt werk in de keuken.", "Wil graag in de logistiek werken (heftruckcertificaat).",
            "Spreekt Frans en Nederlands; ervaring als receptioniste.", "Zoekt werk dicht bij huis, kinderopvang geregeld."]
    for i in range(1, 16):
        rows.append([f"K-{2000 + i}", bsn(), postcode(spaced=False), rnd.choice(["32,0", "24", "36,0", "16"]), rnd.choice(["B", "B;C", "", "AM"]).replace(";", "/"),
                     rnd.choice(["mbo", "hbo", "vmbo"]), rnd.choice(BEROEPEN), rnd.choice(toel), f"{rnd.randint(1, 28):02d}-{rnd.randint(1, 12):02d}-2027",
                     "J" if i % 5 else "N", naam()])
    rows[4][7] = "Bereikbaar via jan.jansen@example.nl"       # personal data in free text: rejected
    rows[9][8] = "31-02-2027"                                  # no such day: rejected
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(rows)
    (OUT / "csv-cp1252/klanten.csv").write_bytes(buf.getvalue().encode("cp1252"))

def xml_clienten():
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', '<gw:export xmlns:gw="urn:example:gemeente:clientsysteem:2" aangemaakt="2026-11-20">', "  <gw:clienten>"]
    for i in range(1, 13):
        rb = rnd.choice([["B"], ["B", "BE"], [], ["C", "CE"]])
        umin, umax = rnd.choice([(16, 24), (24, 32), (32, 40), (8, 16)])
        toest = "ja" if i % 4 else "nee"
        parts.append(f'    <gw:client id="CL{3000 + i}">')
        parts.append(f"      <gw:bsn>{bsn()}</gw:bsn>")
        parts.append(f"      <gw:naam>{escape(naam())}</gw:naam>")
        parts.append(f'      <gw:adres soort="woon"><gw:straat>{rnd.choice(STRATEN)}</gw:straat><gw:postcode>{postcode()}</gw:postcode></gw:adres>')
        parts.append(f'      <gw:beschikbaarheid uren-min="{umin}" uren-max="{umax}" vanaf="2027-0{rnd.randint(1, 9)}-01"/>')
        for r in rb:
            parts.append(f"      <gw:rijbewijs>{r}</gw:rijbewijs>")
        parts.append(f"      <gw:taal code=\"nld\" mondeling=\"{rnd.randint(2, 4)}\"/>")
        parts.append(f"      <gw:presentatie>{escape('Betrouwbaar & punctueel; werkt graag in teamverband.')}</gw:presentatie>")
        parts.append(f"      <gw:toestemming>{toest}</gw:toestemming>")
        parts.append("    </gw:client>")
    parts += ["  </gw:clienten>", "</gw:export>", ""]
    (OUT / "xml-clienten/clienten.xml").write_text("\n".join(parts), encoding="utf-8")

def xml_vacatures():
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<vacaturefeed bron=\"Werkgeversservicepunt Voorbeeld\">"]
    titels = [("Magazijnmedewerker", "Orderpicken en laden in een modern distributiecentrum."), ("Verzorgende IG", "Zorg voor ouderen in een kleinschalige woonvorm."),
              ("Chauffeur C/CE", "Distributie in de regio, ritten overdag."), ("Kok", "Bereiden van lunch en diner in een bedrijfsrestaurant.")]
    for i in range(1, 11):
        t, o = rnd.choice(titels)
        umin, umax = rnd.choice([(24, 32), (32, 40), (16, 24)])
        parts.append(f'  <vacature nummer="V{4000 + i}">')
        parts.append(f"    <titel>{escape(t)}</titel>")
        parts.append(f"    <omschrijving>{escape(o)}</omschrijving>")
        parts.append(f"    <beroep>{escape(t.split(' ')[0] if t.startswith('Chauffeur') else t)}</beroep>")
        parts.append(f"    <werkgever><naam>{escape(rnd.choice(['Logistiek BV', 'Zorggroep Oost', 'Transport & Co', 'Catering Noord']))}</naam></werkgever>")
        parts.append(f"    <locatie><postcode>{postcode(spaced=False)}</postcode><straat>{rnd.choice(STRATEN)}</straat><huisnummer>{rnd.randint(1, 99)}</huisnummer></locatie>")
        parts.append(f'    <uren min="{umin}" max="{umax}"/>')
        parts.append(f"    <contract>{rnd.choice(['vast', 'tijdelijk'])}</contract>")
        parts.append(f"    <rijbewijs>{'C' if t.startswith('Chauffeur') else ''}</rijbewijs>")
        parts.append(f"    <sluitingsdatum>2027-0{rnd.randint(1, 6)}-15</sluitingsdatum>")
        parts.append("  </vacature>")
    parts += ["</vacaturefeed>", ""]
    (OUT / "xml-vacatures/vacaturefeed.xml").write_text("\n".join(parts), encoding="utf-8")

for d in ["sonar", "csv-cp1252", "xml-clienten", "xml-vacatures"]:
    (OUT / d).mkdir(parents=True, exist_ok=True)
sonar(); cp1252(); xml_clienten(); xml_vacatures()
print("examples written to", OUT)
