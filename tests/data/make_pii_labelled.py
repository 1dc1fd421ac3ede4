"""Build ``pii_labelled.jsonl``: sentences with labelled PII spans, and benign look-alikes with none.

Made for Catalyst's tests and benchmark (no external data). Every value is fake: names are drawn from
common first/last names, cards pass Luhn, IBANs carry correct mod-97 check digits, SSNs use valid
area/group/serial ranges. The benign half is the hard part: order numbers, ISBNs, version strings,
invoice and tracking ids, prices, public company names that contain surnames ("Wells Fargo",
"Johnson & Johnson"), "individual account", card-like numbers that fail Luhn.

Run ``python tests/data/make_pii_labelled.py`` to rewrite the file (deterministic: fixed seed).
Each line: ``{"id", "text", "entities": [{"start", "end", "type"}], "kind": "pii" | "benign"}``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).with_name("pii_labelled.jsonl")
rng = random.Random(20261126)

FIRST = ["Margaret", "Daniel", "Priya", "Tomasz", "Aisha", "Carlos", "Hannah", "Kenji", "Olivia", "Mohammed",
         "Sofia", "Liam", "Fatima", "Lucas", "Ingrid", "Samuel", "Mei", "Rafael", "Chloe", "Viktor", "Nadia",
         "Ethan", "Grace", "Oluwaseun", "Isabel", "Arjun", "Emma", "Jonas", "Leila", "Patrick"]
LAST = ["Okafor", "Whitaker", "Sharma", "Kowalski", "Rahman", "Mendoza", "Fischer", "Tanaka", "Bennett", "Haddad",
        "Rossi", "O'Brien", "Nguyen", "Silva", "Johansson", "Adeyemi", "Chen", "Moreau", "Dubois", "Petrov",
        "Kaplan", "Gallagher", "Ibrahim", "Lindqvist", "Castillo", "Patel", "Novak", "Schmidt", "Murphy", "Costa"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "protonmail.com", "icloud.com", "acme-corp.com", "uni-bonn.de"]


def name() -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def email(n: str) -> str:
    first, last = n.lower().replace("'", "").split(" ", 1)
    style = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
                        f"{last}.{first[0]}"])
    return f"{style}@{rng.choice(DOMAINS)}"


def phone() -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(1000, 9999)
    return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"+44 20 {rng.randint(7000, 8999)} {c}",
                       f"{a}.{b}.{c}", f"+49 30 {rng.randint(100, 999)} {rng.randint(10000, 99999)}"])


def luhn_complete(prefix: str, length: int) -> str:
    digits = [int(c) for c in prefix] + [rng.randint(0, 9) for _ in range(length - len(prefix) - 1)]
    for check in range(10):
        cand = [*digits, check]
        total = 0
        for i, d in enumerate(reversed(cand)):
            if i % 2 == 1:
                d = d * 2 - 9 if d * 2 > 9 else d * 2
            total += d
        if total % 10 == 0:
            return "".join(map(str, cand))
    raise AssertionError


def card(valid: bool = True) -> str:
    raw = luhn_complete(rng.choice(["4", "51", "55", "37", "6011"]), 16 if rng.random() < 0.85 else 15)
    if not valid:
        raw = raw[:-1] + str((int(raw[-1]) + rng.randint(1, 9)) % 10)
    if len(raw) == 16:
        return " ".join(raw[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.6 else "-".join(
            raw[i:i + 4] for i in range(0, 16, 4))
    return f"{raw[:4]} {raw[4:10]} {raw[10:]}"


def iban() -> str:
    country, bban = rng.choice([
        ("DE", "".join(str(rng.randint(0, 9)) for _ in range(18))),
        ("GB", "WEST" + "".join(str(rng.randint(0, 9)) for _ in range(14))),
        ("FR", "".join(str(rng.randint(0, 9)) for _ in range(23))),
        ("NL", "ABNA" + "".join(str(rng.randint(0, 9)) for _ in range(10))),
    ])
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    s = f"{country}{98 - num % 97:02d}{bban}"
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def ssn() -> str:
    area = rng.choice([x for x in range(101, 665) if x != 666])
    return f"{area:03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}"


def ip() -> str:
    first = rng.choice([23, 51, 84, 91, 142, 185, 203])
    return f"{first}.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def dob() -> str:
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1940, 2005)
    return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d} March {y}"])


# (template, {slot: (type, generator)}); {dob_phrase} carries its own keyword.
PII_TEMPLATES = [
    "Follow-up visit: {PERSON} reports the dizziness has eased since the dose change.",
    "Please call {PERSON} back at {PHONE_NUMBER} about the delayed shipment.",
    "The claim was filed by {PERSON}, reachable at {EMAIL_ADDRESS}.",
    "Patient {PERSON}, DOB {DATE_OF_BIRTH}, was admitted with chest pain.",
    "You can reach our customer directly on {PHONE_NUMBER} after 5 pm.",
    "Send the signed lease to {EMAIL_ADDRESS} before Friday.",
    "Card ending in the full number {CREDIT_CARD} was charged twice.",
    "Her SSN is {US_SSN}, please update the tax form.",
    "Wire the deposit to IBAN {IBAN_CODE} and include the booking reference.",
    "The login came from IP {IP_ADDRESS} at 03:14 UTC.",
    "Dr. {PERSON} reviewed the MRI and recommends physiotherapy.",
    "Hi, I'm {PERSON} and my email is {EMAIL_ADDRESS}.",
    "Refund issued to {PERSON}; confirmation sent to {EMAIL_ADDRESS}.",
    "Emergency contact: {PERSON}, {PHONE_NUMBER}.",
    "For payroll, use SSN {US_SSN} and account holder {PERSON}.",
    "Billing card {CREDIT_CARD}, expiry 09/27, holder {PERSON}.",
    "{PERSON} (born on {DATE_OF_BIRTH}) is the primary policyholder.",
    "Suspicious requests from {IP_ADDRESS} were blocked by the firewall.",
    "Forwarding the complaint from {EMAIL_ADDRESS} to the escalation team.",
    "The tenant, {PERSON}, paid the rent from IBAN {IBAN_CODE}.",
    "My number changed, it's now {PHONE_NUMBER}.",
    "Nurse note: {PERSON} tolerated the infusion well; next dose Tuesday.",
    "Please verify the identity of {PERSON} using SSN {US_SSN}.",
    "Pay with {CREDIT_CARD} if the first card is declined.",
    "Thanks {PERSON}, we received your documents.",
    "Interview scheduled with {PERSON} on Monday; reach her at {PHONE_NUMBER}.",
    "Date of birth: {DATE_OF_BIRTH}. Allergies: penicillin.",
    "The VPN session for {EMAIL_ADDRESS} originated at {IP_ADDRESS}.",
    "Reimburse {PERSON} to {IBAN_CODE} for the conference travel.",
    "According to the intake form, {PERSON} lives alone and drives.",
]
GEN = {"PERSON": name, "PHONE_NUMBER": phone, "CREDIT_CARD": card, "US_SSN": ssn, "IBAN_CODE": iban,
       "IP_ADDRESS": ip, "DATE_OF_BIRTH": dob}

BENIGN = [
    "Please confirm that this individual account belongs to the applicant before we proceed.",
    "Your order #4471-2290-118 shipped yesterday and should arrive by Thursday.",
    "ISBN 978-0-306-40615-7 is the second edition of the textbook.",
    "Upgrade the firmware to version 2.10.3.1 and restart the router.",
    "Wells Fargo and Morgan Stanley both beat earnings estimates this quarter.",
    "Johnson & Johnson recalled a batch of sunscreen in 2021.",
    "The invoice INV-2024-00731 is due within 30 days.",
    "Tracking number 1Z 999 AA1 01 2345 6784 shows the parcel in Memphis.",
    "The meeting moved to 10:30 on 14/03/2025 in room 4.12.",
    "Our support line is open Monday to Friday, 9 am to 6 pm.",
    "The subscription costs $1,299.00 per year, billed annually.",
    "Ticket 48213 was closed after the patch in release 5.4.2.",
    "The individual plan includes 2 TB of storage.",
    "Ford and General Motors are expanding their EV plants in Michigan.",
    "Set the timeout to 30000 ms and retry 3 times.",
    "The reference number for your case is REF-7782-KX.",
    "Goldman Sachs raised its forecast for the S&P 500.",
    "Use the promo code SPRING25 at checkout for 25% off.",
    "The app requires Android 12 or later and iOS 16.4.",
    "Product SKU 8812-4431-7720 is out of stock.",
    "The conference is in Lisbon from 4 to 7 November.",
    "Dell and Hewlett Packard Enterprise reported weaker PC demand.",
    "Page 214 explains the difference between gross and net margin.",
    "Restart the service with systemctl restart nginx.",
    "Our office is at the corner of Main Street, next to the library.",
    "The model scored 87.5 on the benchmark, up from 81.2.",
    "Ben & Jerry's launched two new flavours this summer.",
    "PR 1432 fixes the memory leak in the parser.",
    "Your booking confirmation is ABX-442-19; keep it for check-in.",
    "The dosage chart on page 12 lists adult and pediatric ranges.",
    "Batch 2291-0043 passed quality control on the first inspection.",
    "Each individual account can have up to five linked devices.",
    "The warehouse in Rotterdam processes 12,000 parcels a day.",
    "Download build 2024.11.3.7 from the releases page.",
    "Charles Schwab cut trading fees for options contracts.",
    "The test card number in the sandbox docs is not valid for live payments.",
    "The parcel weighs 4.5 kg and measures 40 x 30 x 20 cm.",
    "Call volume peaked at 1,842 calls on Black Friday.",
    "The API returns HTTP 429 when the rate limit is exceeded.",
    "Sprint 34 ends on Friday; the demo is at 3 pm.",
    "Walt Disney Company announced a new streaming bundle.",
    "DOI 10.1038/s41586-020-2649-2 points to the NumPy paper.",
    "Temperature rose from 18.5 to 27.3 degrees over the afternoon.",
    "Model number 5530-2219-88 is covered by the extended warranty.",
    "Our Q3 revenue was 4.2 million euros, up 12 percent.",
    "The account team will follow up with each individual customer.",
    "Kubernetes 1.29.4 deprecates the old flow-control API.",
    "Lot 771-20-4432 of the vaccine was shipped to clinics.",
    "Mercedes-Benz and Porsche both reported lower sales in China.",
    "The hotel check-in starts at 15:00 and check-out is at 11:00.",
    "Patent US 10,123,456 covers the hinge mechanism.",
    "Serial number 4539-8812-0034-1178 is printed under the battery.",
    "The flight departs from gate B22 at 07:45.",
    "Refunds usually take 5 to 10 business days to appear.",
    "Use port 5432 for Postgres and 6379 for Redis.",
    "Philips recalled some sleep apnea machines.",
    "The recipe needs 250 g of flour and 3 eggs.",
    "The firmware 1.0.2.3 release notes mention a Wi-Fi fix.",
    "Step 4: tighten the 12 mm bolts to 40 Nm.",
    "Procter & Gamble raised prices on household goods.",
]


def benign_numbers() -> list[str]:
    """Card-like numbers that fail Luhn, order ids, versions: built to tempt the pattern recognizers."""
    out = []
    for _ in range(45):
        kind = rng.choice(["card", "order", "version", "isbn", "invoice"])
        if kind == "card":
            out.append(f"Gift voucher code {card(valid=False)} cannot be redeemed online.")
        elif kind == "order":
            out.append(f"Order number {rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)} "
                       "is ready for pickup.")
        elif kind == "version":
            out.append(f"We rolled out version {rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}."
                       f"{rng.randint(0, 99)} to all customers.")
        elif kind == "isbn":
            out.append(rng.choice(["ISBN 978-1-4028-9462-6 is the paperback edition.",
                                   "See ISBN 978-0-596-52068-7 for the reference manual.",
                                   "The library lists it under ISBN 978-3-16-148410-0."]))
        else:
            out.append(f"Invoice no. {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)} "
                       "was paid in full.")
    return out


def fill(template: str) -> tuple[str, list[dict[str, object]]]:
    text, ents, pos = "", [], 0
    person = None
    while True:
        i = template.find("{", pos)
        if i < 0:
            text += template[pos:]
            break
        j = template.index("}", i)
        text += template[pos:i]
        slot = template[i + 1:j]
        if slot == "EMAIL_ADDRESS":
            value = email(person or name())
        else:
            value = GEN[slot]()
            if slot == "PERSON":
                person = value
        ents.append({"start": len(text), "end": len(text) + len(value), "type": slot})
        text += value
        pos = j + 1
    if "DOB {DATE_OF_BIRTH}" in template or "born on {DATE_OF_BIRTH}" in template or "Date of birth:" in template:
        pass  # the keyword is part of the sentence; the labelled span is the date
    return text, ents


def main() -> None:
    rows = []
    for k in range(4):
        for t in PII_TEMPLATES:
            text, ents = fill(t)
            rows.append({"text": text, "entities": ents, "kind": "pii"})
            if k == 3 and len(rows) >= 120:
                break
    rows = rows[:120]
    for t in BENIGN + benign_numbers():
        rows.append({"text": t, "entities": [], "kind": "benign"})
    seen, out = set(), []
    for r in rows:
        if r["text"] not in seen:
            seen.add(r["text"])
            out.append({"id": f"pii-{len(out):03d}", **r})
    with OUT.open("w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    n_pii = sum(r["kind"] == "pii" for r in out)
    print(f"wrote {OUT} ({len(out)} sentences: {n_pii} with PII, {len(out) - n_pii} benign)")


if __name__ == "__main__":
    main()
