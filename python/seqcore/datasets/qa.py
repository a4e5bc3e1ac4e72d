"""Generated extractive question answering: short factual passages and questions answered by a span.

Each passage (3 to 6 sentences) is about one generated subject -- a person, a company or a city --
and states several facts about it, each fact a value drawn with ``faker`` (see
:class:`seqcore.datasets.ner.Filler`): where and when a person was born, their job and employer, when
they joined it and where they live now; when and by whom a company was founded, where it is
headquartered, its chief executive, staff, revenue, a newer office and its stock market listing; a
city's state or county, population, mayor, founding year, twin town and largest employer.  One to
three questions are asked about each passage, each of one of ``QUESTION_KINDS`` (a kind is the fact it
asks for), and the answer is the exact span of the passage where the fact is stated.  Offsets are
recorded while the passage is written, never searched for, so a value that occurs twice (a city that
is both birthplace and home) still gets the right span.

The two splits share no question wording and no passage sentence: "train" uses ``TRAIN_QUESTIONS``
and ``TRAIN_SENTENCES``, "test" ``TEST_QUESTIONS`` and ``TEST_SENTENCES``; the kinds of facts asked for
are the same.  Passages carry distractors, facts of the same type as the answer (a birthplace and a
home town, a birth date and a start date, a founder and a chief executive, a founding year and a
listing year), so the question must be read to find the answer: in "test" every passage has them, in
"train" about half of the optional facts are stated, so a model meets passages with and without them.
"test" values come from a differently seeded faker mixing ``en_GB`` and ``en_US``, "train" uses ``en_US``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .ner import Filler, _check_args
from .squad import Answer, QAExample

__all__ = [
    "QUESTION_KINDS",
    "SUBJECTS",
    "TEST_QUESTIONS",
    "TEST_SENTENCES",
    "TRAIN_QUESTIONS",
    "TRAIN_SENTENCES",
    "qa_examples",
]

SUBJECTS: tuple[str, ...] = ("person", "company", "city")


@dataclass(frozen=True)
class _Group:
    """Sentences stating the facts ``states`` about a subject; ``role``: "first" (opens the passage),
    "always", "optional", or "distractor" (optional in train, always present in test)."""

    subject: str
    role: str
    states: tuple[str, ...]
    train: tuple[str, ...]
    test: tuple[str, ...]


# Placeholders: {name} the subject; {Ref}/{ref} it/he/she/the company/... as a sentence's subject (capital
# at a sentence's start), {obj} as an object, {Poss}/{poss} possessive; lower-case names the subject's facts.
_GROUPS: tuple[_Group, ...] = (
    # --- a person ---
    _Group(
        "person",
        "first",
        ("job", "employer"),
        (
            "{name} works as {a} {job} at {employer}.",
            "{name} is {a} {job} employed by {employer}.",
            "{name} has a job as {a} {job} with {employer}.",
            "{name} earns a living as {a} {job} at {employer}.",
            "At {employer}, {name} works as {a} {job}.",
        ),
        (
            "{employer} employs {name} as {a} {job}.",
            "By profession {name} is {a} {job}, working for {employer}.",
        ),
    ),
    _Group(
        "person",
        "always",
        ("birth_city", "birth_date"),
        (
            "{Ref} was born in {birth_city} on {birth_date}.",
            "{Ref} was born on {birth_date} in {birth_city}.",
            "{Poss} birthplace is {birth_city}, where {ref} was born on {birth_date}.",
            "{Ref} was born on {birth_date}, in the city of {birth_city}.",
            "{Ref} was born in {birth_city}; the date was {birth_date}.",
        ),
        (
            "{Ref} came into the world in {birth_city} on {birth_date}.",
            "{birth_city} is where {ref} was born, on {birth_date}.",
        ),
    ),
    _Group(
        "person",
        "distractor",
        ("residence",),
        (
            "{Ref} now lives in {residence}.",
            "These days {ref} lives in {residence}.",
            "{Ref} has settled in {residence}.",
        ),
        ("{Ref} currently makes {poss} home in {residence}.", "At present {ref} resides in {residence}."),
    ),
    _Group(
        "person",
        "distractor",
        ("join_date",),
        (
            "{Ref} joined {employer_ref} on {join_date}.",
            "{Ref} started working there on {join_date}.",
            "{Ref} began work at {employer_ref} on {join_date}.",
            "On {join_date}, {ref} took a job at {employer_ref}.",
        ),
        (
            "{Poss} first day at {employer_ref} was {join_date}.",
            "{Ref} has been with {employer_ref} since {join_date}.",
        ),
    ),
    _Group(
        "person",
        "optional",
        (),
        ("{Ref} enjoys hiking and chess.", "Colleagues describe {obj} as careful and patient."),
        ("Outside work, {ref} plays the piano.", "Friends say {ref} is generous and funny."),
    ),
    # --- a company ---
    _Group(
        "company",
        "first",
        ("hq_city",),
        (
            "{name} is a company headquartered in {hq_city}.",
            "{name} is based in {hq_city}.",
            "{name}, a {sector} firm, has its headquarters in {hq_city}.",
            "{name} runs its business from {hq_city}.",
        ),
        ("The head office of {name} is in {hq_city}.", "{hq_city} is home to {name}, a {sector} business."),
    ),
    _Group(
        "company",
        "always",
        ("founded_year", "founder"),
        (
            "{Ref} was founded in {founded_year} by {founder}.",
            "{founder} founded {obj} in {founded_year}.",
            "{Ref} dates back to {founded_year}, when {founder} created it.",
            "{founder} launched {obj} in {founded_year}.",
        ),
        (
            "{founder} set up {obj} in {founded_year}.",
            "{Ref} traces its origins to {founded_year}, when {founder} started it.",
        ),
    ),
    _Group(
        "company",
        "distractor",
        ("ceo",),
        (
            "{Poss} chief executive is {ceo}.",
            "{ceo} is the CEO of {obj}.",
            "{Ref} is managed by {ceo}, its chief executive.",
        ),
        ("Today {ceo} runs {obj} as chief executive.", "At the top of {obj} today sits {ceo}."),
    ),
    _Group(
        "company",
        "optional",
        ("employees", "revenue"),
        (
            "{Ref} has {employees} employees and reported revenue of {revenue} last year.",
            "With {employees} employees, {ref} made {revenue} in revenue last year.",
        ),
        (
            "Last year {poss} {employees} staff brought in sales of {revenue}.",
            "{Ref} employs {employees} people, and its sales last year came to {revenue}.",
        ),
    ),
    _Group(
        "company",
        "distractor",
        ("office_city",),
        (
            "In {office_year}, {ref} opened an office in {office_city}.",
            "{Ref} opened a new office in {office_city} in {office_year}.",
            "{Ref} added an office in {office_city} in {office_year}.",
        ),
        ("An office in {office_city} followed in {office_year}.", "{Ref} expanded to {office_city} in {office_year}."),
    ),
    _Group(
        "company",
        "distractor",
        ("ipo_year",),
        (
            "{Ref} went public in {ipo_year}.",
            "{Poss} shares were first listed on the stock exchange in {ipo_year}.",
            "{Ref} listed its shares in {ipo_year}.",
        ),
        ("{Ref} floated on the stock market in {ipo_year}.", "Since {ipo_year}, {poss} shares have traded publicly."),
    ),
    # --- a city ---
    _Group(
        "city",
        "first",
        ("region",),
        ("{name} is a city in {region}.", "{name} is a town in the {region_word} of {region}."),
        ("{name} lies in {region}.", "Located in {region}, {name} is a busy market town."),
    ),
    _Group(
        "city",
        "always",
        ("population",),
        ("{Ref} has a population of {population}.", "About {population} people live in {obj}."),
        ("{Poss} population stands at {population}.", "Some {population} residents call {obj} home."),
    ),
    _Group(
        "city",
        "optional",
        ("mayor",),
        ("{Poss} mayor is {mayor}.", "{mayor} is the mayor of {obj}."),
        ("{mayor} was elected to lead {obj} as mayor.", "The city is run by its mayor, {mayor}."),
    ),
    _Group(
        "city",
        "distractor",
        ("city_founded",),
        ("{Ref} was founded in {city_founded}.", "The first settlers arrived in {obj} in {city_founded}."),
        (
            "{Poss} history begins in {city_founded}, the year of its founding.",
            "Settlers established {obj} in {city_founded}.",
        ),
    ),
    _Group(
        "city",
        "distractor",
        ("twin_city",),
        ("{Ref} is twinned with {twin_city}.", "{Poss} twin town is {twin_city}."),
        (
            "{Ref} has a partnership with the city of {twin_city}.",
            "A sister-city agreement links {obj} with {twin_city}.",
        ),
    ),
    _Group(
        "city",
        "optional",
        ("largest_employer",),
        (
            "{Poss} largest employer is {largest_employer}.",
            "{largest_employer} employs more people in {obj} than any other company.",
        ),
        (
            "The biggest source of jobs in {obj} is {largest_employer}.",
            "Most workers in {obj} are employed by {largest_employer}.",
        ),
    ),
    _Group(
        "city",
        "distractor",
        (),
        ("A new bridge opened there in {bridge_year}.", "{Ref} got its first hospital in {bridge_year}."),
        ("The railway reached {obj} in {bridge_year}.", "A university opened in {obj} in {bridge_year}."),
    ),
)

#: Question wordings per kind (the kind is the fact asked for): {name} is the subject, {employer} the
#: person's employer, {region_word} "state" or "county".
TRAIN_QUESTIONS: dict[str, tuple[str, ...]] = {
    "birth_city": (
        "Where was {name} born?",
        "In which city was {name} born?",
        "{name} was born where?",
        "What is the birthplace of {name}?",
        "In what town was {name} born?",
        "Give the city of birth of {name}.",
        "{name} comes from which city originally?",
        "Which place is {name}'s hometown?",
    ),
    "birth_date": (
        "When was {name} born?",
        "What is the date of birth of {name}?",
        "On what date was {name} born?",
        "{name}'s date of birth is what?",
        "Give the birth date of {name}.",
        "On which day did {name} come into this world?",
        "{name} was born when?",
    ),
    "residence": (
        "Where does {name} live?",
        "In which city does {name} live now?",
        "What city is {name}'s home today?",
        "{name} resides where these days?",
        "Where is {name}'s home now?",
        "Tell me where {name} lives.",
        "Which town does {name} call home at the moment?",
    ),
    "job": (
        "What does {name} do for a living?",
        "What is {name}'s job?",
        "What is the occupation of {name}?",
        "{name} has what job?",
        "What kind of work does {name} do?",
        "Give the job title of {name}.",
        "In what role is {name} employed?",
    ),
    "employer": (
        "Which company does {name} work for?",
        "Who employs {name}?",
        "Where does {name} work?",
        "{name} works for which firm?",
        "Tell me the company where {name} has a job.",
        "Which business pays {name}'s salary?",
        "For what organisation does {name} work?",
    ),
    "join_date": (
        "When did {name} join {employer}?",
        "On what date did {name} start at {employer}?",
        "When did {name} begin working for {employer}?",
        "{name} joined {employer} on which date?",
        "Give the date {name} started working at {employer}.",
        "Since what date has {name} worked for {employer}?",
        "On which day did {name} take up the job at {employer}?",
    ),
    "hq_city": (
        "Where is {name} headquartered?",
        "In which city is {name} based?",
        "Where are the headquarters of {name}?",
        "{name} is based in which city?",
        "Tell me the city where {name} has its headquarters.",
        "Which city hosts the main office of {name}?",
        "Where is the home base of {name}?",
    ),
    "founded_year": (
        "When was {name} founded?",
        "In what year was {name} established?",
        "What year was {name} set up?",
        "{name} was founded in which year?",
        "Give the year {name} was started.",
        "In which year did {name} begin?",
        "How long ago was {name} founded, in which year?",
    ),
    "founder": (
        "Who founded {name}?",
        "Who is the founder of {name}?",
        "Who started {name}?",
        "{name} was founded by whom?",
        "Tell me who created {name}.",
        "Which person set up {name}?",
        "Who established the company {name}?",
    ),
    "ceo": (
        "Who is the CEO of {name}?",
        "Who runs {name}?",
        "Who is the chief executive of {name}?",
        "{name} is run by whom?",
        "Tell me who heads {name}.",
        "Which person is in charge of {name} now?",
        "Who manages {name} at the top?",
    ),
    "employees": (
        "How many employees does {name} have?",
        "How many people work at {name}?",
        "What is the size of the workforce at {name}?",
        "{name} has how many staff?",
        "Give the number of employees of {name}.",
        "How many workers are on the payroll of {name}?",
        "How big is the staff of {name}?",
    ),
    "revenue": (
        "What was the revenue of {name} last year?",
        "How much revenue did {name} report?",
        "How much money did {name} make last year?",
        "{name} earned how much in revenue?",
        "Give the annual revenue of {name}.",
        "What did {name} bring in last year?",
        "How large was the turnover of {name} last year?",
    ),
    "office_city": (
        "Where did {name} open an office?",
        "In which city did {name} open its new office?",
        "{name} opened an office in which city?",
        "Tell me where {name} set up a new office.",
        "Which city did {name} open a branch in?",
        "Where is the newer office of {name}?",
    ),
    "ipo_year": (
        "When did {name} go public?",
        "In which year was {name} listed on the stock exchange?",
        "{name} went public in which year?",
        "Give the year {name} was first listed.",
        "In what year did shares of {name} start trading?",
        "When did {name} have its public listing?",
    ),
    "region": (
        "In which {region_word} is {name}?",
        "{name} lies in which {region_word}?",
        "What {region_word} is {name} in?",
        "Tell me the {region_word} where {name} is located.",
        "{name} is located in which {region_word}?",
        "Which {region_word} contains {name}?",
    ),
    "population": (
        "What is the population of {name}?",
        "How many people live in {name}?",
        "How many inhabitants does {name} have?",
        "{name} has how many residents?",
        "Give the population of {name}.",
        "How many people call {name} home?",
        "What number of people live in {name}?",
    ),
    "mayor": (
        "Who is the mayor of {name}?",
        "Who leads the city government of {name}?",
        "{name} has which mayor?",
        "Tell me who the mayor of {name} is.",
        "Which person is mayor of {name}?",
        "Who runs the town of {name} as mayor?",
    ),
    "city_founded": (
        "In which year was the city of {name} founded?",
        "When was {name} first settled?",
        "{name} was settled in which year?",
        "Give the year the town of {name} was founded.",
        "In what year did {name} come into being?",
        "How old is {name}: in which year was it founded?",
    ),
    "twin_city": (
        "Which city is {name} twinned with?",
        "What is the twin town of {name}?",
        "{name} is twinned with which city?",
        "Tell me the twin city of {name}.",
        "Which town is paired with {name}?",
        "With what city does {name} have a twinning link?",
    ),
    "largest_employer": (
        "What is the largest employer in {name}?",
        "Which company employs the most people in {name}?",
        "{name}'s biggest employer is which company?",
        "Tell me the largest employer of {name}.",
        "Which business has the most workers in {name}?",
        "What company gives the most jobs in {name}?",
    ),
}

TEST_QUESTIONS: dict[str, tuple[str, ...]] = {
    "birth_city": ("Name the city where {name} was born.", "{name}'s place of birth is which city?"),
    "birth_date": ("{name} was born on which date?", "What is {name}'s birthday?"),
    "residence": ("Where is {name} currently based?", "{name} lives in which city?"),
    "job": ("What is {name}'s profession?", "{name} works as what?"),
    "employer": ("What is the name of {name}'s employer?", "{name} is employed by which company?"),
    "join_date": ("{name} has been with {employer} since when?", "What was {name}'s first day at {employer}?"),
    "hq_city": ("{name} has its head office in which city?", "What city is home to the headquarters of {name}?"),
    "founded_year": ("{name} was created in which year?", "Since which year has {name} existed?"),
    "founder": ("{name} was set up by whom?", "Which person established {name}?"),
    "ceo": ("Who leads {name} today?", "Name the boss of {name}."),
    "employees": ("{name} employs how many people?", "What is the headcount at {name}?"),
    "revenue": ("What were the sales of {name} last year?", "{name} took in how much last year?"),
    "office_city": ("{name} expanded to which city?", "Which city got a new office of {name}?"),
    "ipo_year": (
        "What year did {name} first sell shares to the public?",
        "{name} floated on the stock market in which year?",
    ),
    "region": ("Which {region_word} does {name} belong to?", "{name} is part of which {region_word}?"),
    "population": ("{name} is home to how many people?", "How large is the population of {name}?"),
    "mayor": ("Who holds the office of mayor in {name}?", "{name}'s mayor is who?"),
    "city_founded": ("What is the founding year of {name}?", "{name} was founded in what year?"),
    "twin_city": ("{name} has a partnership with which city?", "Name the sister city of {name}."),
    "largest_employer": ("Which firm is the biggest employer in {name}?", "Who provides the most jobs in {name}?"),
}

#: Every kind of fact a question can ask for (the same in both splits).
QUESTION_KINDS: tuple[str, ...] = tuple(TRAIN_QUESTIONS)

#: Every passage sentence of each split (for checks; passages are built from ``_GROUPS``).
TRAIN_SENTENCES: tuple[str, ...] = tuple(s for g in _GROUPS for s in g.train)
TEST_SENTENCES: tuple[str, ...] = tuple(s for g in _GROUPS for s in g.test)

_LOCALES = {"train": ("en_US",), "test": ("en_GB", "en_US")}
_SLOT = re.compile(r"\{(\w+)\}")
_MIN_SENTENCES, _MAX_SENTENCES = 3, 6
_SECTORS = ("software", "logistics", "food", "mining", "media", "insurance", "energy", "retail", "shipping", "steel")


def _distinct(draw: Any, *avoid: str) -> str:
    """A value from ``draw()`` other than those in ``avoid`` (so a distractor never equals the answer)."""
    while True:
        value = draw()
        if value not in avoid:
            return value


def _job_phrase(job: str) -> tuple[str, str]:
    """(article, job) for "works as a surgeon": faker's "Chief Strategy Officer" lower-cased, acronyms
    ("IT trainer") kept."""
    job = " ".join(w[0].lower() + w[1:] if len(w) > 1 and w[1].islower() else w for w in job.split())
    return ("an" if job[0].lower() in "aeiou" else "a"), job


def _facts(subject: str, fill: Filler) -> dict[str, str]:
    """The subject's name and facts, and the words passages and questions need about it."""
    rng = fill.rng
    if subject == "person":
        female = rng.random() < 0.5
        birth = fill.day(1940, 2000)
        join = fill.day(birth.year + 20, 2024)
        article, job = _job_phrase(fill.job())
        birth_city = fill.city()
        employer = fill.company()
        return {
            "name": fill.person(female),
            "job": job,
            "a": article,
            "employer": employer,
            "birth_city": birth_city,
            "birth_date": fill.date(birth, full=True),
            "residence": _distinct(fill.city, birth_city),
            "join_date": fill.date(join, full=True),
            "he": "she" if female else "he",
            "his": "her" if female else "his",
            "him": "her" if female else "him",
        }
    if subject == "company":
        founded = rng.randint(1900, 2010)
        ipo = rng.randint(founded + 3, 2024)
        office = _distinct(lambda: str(rng.randint(founded + 1, 2024)), str(ipo))
        hq_city = fill.city()
        founder = fill.person()
        revenue = fill.money(large=True)
        return {
            "name": fill.company(),
            "sector": rng.choice(_SECTORS),
            "hq_city": hq_city,
            "founded_year": str(founded),
            "founder": founder,
            "ceo": _distinct(fill.person, founder),
            "employees": f"{rng.choice((rng.randint(12, 990), rng.randint(1, 250) * 100)):,}",
            "revenue": revenue,
            "office_city": _distinct(fill.city, hq_city),
            "office_year": office,
            "ipo_year": str(ipo),
            "he": "it",
            "noun": "company",
        }
    name = fill.city()
    region, region_word = fill.region_and_kind()
    founded = rng.randint(1650, 1950)
    return {
        "name": name,
        "region": region,
        "region_word": region_word,
        "population": f"{rng.randint(2_000, 900_000):,}",
        "mayor": fill.person(),
        "city_founded": str(founded),
        "twin_city": _distinct(fill.city, name),
        "largest_employer": fill.company(),
        "bridge_year": _distinct(lambda: str(rng.randint(founded + 1, 2020)), str(founded)),
        "he": "it",
        "noun": "city",
    }


def _reference(slot: str, facts: dict[str, str], rng: Any) -> str | None:
    """A word for the subject at a placeholder ({Ref}, {ref}, {obj}, {Poss}, {poss}), varied per use;
    None for any other placeholder."""
    person = facts["he"] != "it"
    the = f"the {facts.get('noun')}"
    if slot == "Ref":
        if person:
            word = facts["he"] if rng.random() < 0.7 else facts["name"].split()[-1]
        else:
            word = rng.choice(("it", the, facts["name"]))
    elif slot == "ref":
        word = facts["he"] if person else rng.choice(("it", the))
    elif slot == "obj":
        word = facts["him"] if person else rng.choice((the, facts["name"]))
    elif slot in ("Poss", "poss"):
        word = facts["his"] if person else rng.choice(("its", f"{the}'s"))
    else:
        return None
    # a pronoun gets a capital at a sentence's start; a name keeps its own
    return word[0].upper() + word[1:] if slot[0].isupper() else word


def _passage(subject: str, split: str, fill: Filler) -> tuple[str, dict[str, str], dict[str, int], list[str]]:
    """A passage about a new subject: (text, facts, start offset of each fact stated, its sentences)."""
    rng = fill.rng
    facts = _facts(subject, fill)
    if subject == "person":
        facts["employer_ref"] = facts["employer"]
    groups = [g for g in _GROUPS if g.subject == subject]
    first = [g for g in groups if g.role == "first"]
    always = [g for g in groups if g.role == "always"]
    forced = "distractor" if split == "test" else None
    chosen = [g for g in groups if g.role == forced]
    spare = [g for g in groups if g.role in ("optional", "distractor") and g not in chosen]
    chosen += [g for g in spare if rng.random() < 0.5]
    spare = [g for g in spare if g not in chosen]
    rng.shuffle(spare)
    while len(first) + len(always) + len(chosen) < _MIN_SENTENCES and spare:
        chosen.append(spare.pop())
    while len(first) + len(always) + len(chosen) > _MAX_SENTENCES:
        chosen.remove(rng.choice([g for g in chosen if g.role != forced]))
    body = always + chosen
    rng.shuffle(body)

    text = ""
    starts: dict[str, int] = {}
    sentences: list[str] = []
    for k, group in enumerate(first + body):
        if text:
            text += " "
        begin = len(text)
        if subject == "person" and k > 1:  # the employer named once, then at times "the company"
            facts["employer_ref"] = rng.choice((facts["employer"], "the company"))
        template = rng.choice(group.train if split == "train" else group.test)
        pos = 0
        for match in _SLOT.finditer(template):
            text += template[pos : match.start()]
            slot = match.group(1)
            word = _reference(slot, facts, rng)
            if word is None:
                word = facts[slot]
            if slot in group.states:
                starts[slot] = len(text)
            text += word
            pos = match.end()
            if word.endswith(".") and template.startswith(".", pos):  # "... Ellis & Co." ends with one point
                pos += 1
        text += template[pos:]
        sentences.append(text[begin:])
    return text, facts, starts, sentences


def _generate(n: int, seed: int, split: str) -> list[tuple[QAExample, str]]:
    """(example, kind) pairs: ``qa_examples`` with the kind of fact each question asks for."""
    n, seed, split = _check_args(n, seed, split)
    fill = Filler(_LOCALES[split], f"seqcore.qa/{split}/{seed}")
    rng = fill.rng
    questions = TRAIN_QUESTIONS if split == "train" else TEST_QUESTIONS
    out: list[tuple[QAExample, str]] = []
    while len(out) < n:
        context, facts, starts, _ = _passage(rng.choice(SUBJECTS), split, fill)
        kinds = [kind for kind in QUESTION_KINDS if kind in starts]
        for kind in rng.sample(kinds, min(len(kinds), rng.randint(1, 3), n - len(out))):
            question = rng.choice(questions[kind]).format(**facts)
            answer = Answer(facts[kind], starts[kind])
            out.append((QAExample(f"{split}-{len(out):06d}", context, question, (answer,)), kind))
    return out


def qa_examples(n: int, seed: int = 0, *, split: str = "train") -> list[QAExample]:
    """``n`` generated questions of ``split`` ("train" or "test") with their passages and answer spans.

    One to three questions share a passage (and are next to each other, so :func:`write_squad` keeps
    their order); ids are ``"{split}-{index:06d}"``.  The same arguments give the same examples.
    """
    return [example for example, _ in _generate(n, seed, split)]
