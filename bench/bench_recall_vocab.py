"""The recall benchmark's vocabulary: small-talk topics and the facts people plant, in es and en."""

from __future__ import annotations

from dataclasses import dataclass

# -- small talk: each person talks about a few of these topics -------------------------------

TOPICS = {
    "es": {
        "tiempo": "hoy hace un calor tremendo y no apetece salir|lleva toda la mañana lloviendo sin parar|por fin salió el sol después de una semana gris|con este viento no hay quien pasee tranquilo",
        "fútbol": "anoche vi el partido y fue un desastre total|el árbitro pitó un penalti que no era|mi equipo ya no gana ni un partido|el delantero nuevo corre mucho pero falla todo",
        "cocina": "hice una tortilla de patatas para cenar|se me quemó el arroz otra vez|probé una receta de lentejas con chorizo|el pan casero me salió duro como una piedra",
        "series": "empecé una serie de detectives muy buena|el final de temporada me dejó con la boca abierta|me quedé dormido viendo una película en el sofá|no sé qué ver esta noche, recomiéndame algo",
        "compras": "fui al supermercado y estaba todo carísimo|compré unas zapatillas nuevas para correr|la lavadora hace un ruido rarísimo|tengo que devolver un paquete que llegó roto",
        "deporte": "salí a correr cinco kilómetros esta mañana|el gimnasio estaba lleno de gente|me duelen las piernas de la bici|quiero probar la natación en otoño",
        "viajes": "estoy mirando vuelos baratos para el puente|el tren llegó con una hora de retraso|echo de menos la playa|me encantaría ver las montañas nevadas",
        "libros": "estoy leyendo una novela de misterio larguísima|me regalaron un libro de poesía|la biblioteca del barrio cierra pronto|no consigo concentrarme para leer",
        "móvil": "el móvil se me apaga solo cada dos por tres|actualicé el ordenador y ahora va lentísimo|la wifi de casa funciona fatal|me pasé la tarde ordenando fotos",
        "ánimo": "estoy un poco cansado porque dormí fatal|hoy me levanté de muy buen humor|tengo la cabeza en mil sitios|necesito unas vacaciones ya",
        "vecinos": "los vecinos de arriba hacen obras todo el día|el portero me contó un cotilleo buenísimo|hay un gato callejero que viene a mi ventana|en el barrio han abierto una panadería nueva",
        "oficina": "hoy tuve una reunión eterna|mi jefe me pidió un informe urgente|en la oficina no funciona el aire acondicionado|me quedé hasta tarde terminando unas cuentas",
    },
    "en": {
        "weather": "it has been raining all morning without a break|the sun finally came out after a grey week|it is far too hot to go outside today|the wind is so strong nobody can walk in peace",
        "football": "I watched the match last night and it was a disaster|the referee gave a penalty that was never there|my team cannot win a single game lately|the new striker runs a lot but misses everything",
        "cooking": "I made a big pot of chili for dinner|I burned the rice again somehow|I tried a lentil soup recipe from a blog|my homemade bread came out hard as a rock",
        "shows": "I started a really good detective series|the season finale left me speechless|I fell asleep on the couch during a movie|I have no idea what to watch tonight",
        "shopping": "the supermarket was ridiculously expensive today|I bought new running shoes on sale|the washing machine makes a weird noise|I need to return a parcel that arrived broken",
        "running": "I went for a five kilometre run this morning|the gym was packed with people|my legs hurt from cycling yesterday|I want to try swimming in the autumn",
        "travel": "I am looking at cheap flights for the long weekend|the train was an hour late again|I really miss the beach|I would love to see snowy mountains",
        "books": "I am reading a very long mystery novel|someone gave me a poetry book|the local library closes early now|I cannot focus enough to read lately",
        "gadgets": "my phone keeps switching itself off|I updated the laptop and now it crawls|the home wifi is terrible this week|I spent the afternoon sorting old photos",
        "mood": "I am a bit tired because I slept badly|I woke up in a great mood today|my head is all over the place|I badly need a holiday",
        "neighbours": "the upstairs neighbours are drilling all day|the caretaker told me some juicy gossip|a stray cat keeps coming to my window|a new bakery opened down the street",
        "office": "I had an endless meeting today|my boss wants an urgent report|the air conditioning at the office is broken|I stayed late finishing some spreadsheets",
    },
}
OPENERS = {
    "es": ("", "", "Oye, ", "Pues ", "Bueno, ", "Mira, ", "Jaja ", "Uf, "),
    "en": ("", "", "Hey, ", "Well, ", "So ", "Honestly, ", "Haha ", "Ugh, "),
}
TAILS = {
    "es": ("", "", ". ¿Y tú qué tal?", ". En fin.", ". Ya ves.", ". Qué le vamos a hacer."),
    "en": ("", "", ". How about you?", ". Anyway.", ". Oh well.", ". Such is life."),
}
EVIDENCE_OPENERS = {
    "es": ("", "Oye, ", "Ah, ", "Por cierto, "),
    "en": ("", "Oh, ", "Ah, ", "So, "),
}

# -- facts: what a person says about themselves, and how they later ask about it --------------
# Per category: answers (never in small talk), statements, an update (or ""), questions
# that share a word with the statement, paraphrases that share none, and mentions
# (small talk on the same subject without the answer: what recall must rank below it).

PEOPLE = {
    "es": ("Lucía", "Marta", "Inés", "Carmen", "Elena", "Paula", "Irene", "Nuria"),
    "en": ("Emma", "Olivia", "Grace", "Chloe", "Hannah", "Sophie", "Alice", "Lily"),
}
ANIMALS = {
    "es": ("perro", "loro", "conejo", "hurón", "gato"),
    "en": ("dog", "parrot", "rabbit", "ferret", "cat"),
}
MONTHS = {
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "en": "January February March April May June July August September October November December",
}


@dataclass(frozen=True, slots=True)
class Category:
    answers: tuple[str, ...]
    statements: tuple[str, ...]
    update: str
    overlap: tuple[str, ...]
    paraphrase: tuple[str, ...]
    mentions: tuple[str, ...]


def _c(answers: str, said: str, update: str, overlap: str, para: str, ment: str) -> Category:
    """A category from "|"-separated alternatives."""
    a, s, o, p, m = (tuple(x.split("|")) if x else () for x in (answers, said, overlap, para, ment))
    return Category(a, s, update, o, p, m)


CITIES = "Valencia|Sevilla|Bilbao|Zaragoza|Granada|Salamanca|Oviedo|Lisboa|Oporto|Toulouse|Rotterdam|Glasgow|Denver|Portland|Melbourne|Montevideo"
CATEGORIES: dict[str, dict[str, Category]] = {
    "es": {
        "sibling": _c(
            CITIES,
            "Mi hermana {sis} vive en {v}|Mi hermana {sis} vive en {v} desde hace años",
            "{sis} se mudó: vive en {v} desde el mes pasado",
            "¿Dónde vive mi hermana {sis}?|¿Te acuerdas de dónde vive {sis}?",
            "¿En qué ciudad reside la pequeña de mi familia?|¿Recuerdas la ciudad de residencia de la chica de mi familia?",
            "{sis} me llamó anoche y estuvimos hablando un buen rato|Mi hermana {sis} me mandó fotos de su gato|Echo de menos a mi hermana, hace mucho que no la veo",
        ),
        "instrument": _c(
            "violonchelo|ukelele|clarinete|acordeón|saxofón|fagot|bandoneón|contrabajo",
            "Estoy aprendiendo a tocar el {v}|Desde el verano estoy aprendiendo {v} con un profesor",
            "Ya no toco el {old}, ahora estoy aprendiendo {v}",
            "¿Qué instrumento estoy aprendiendo?|¿Qué estoy aprendiendo a tocar?",
            "¿Con qué música ando liado últimamente?|¿Recuerdas mis clases de música?",
            "Hoy practiqué escalas casi una hora|Mi profesor de música dice que voy mejorando",
        ),
        "pet": _c(
            "Trufa|Bruno|Simba|Chispa|Nala|Rocco|Lupo|Kira",
            "Tengo un {animal} que se llama {v}|Mi {animal} se llama {v} y es un trasto",
            "",
            "¿Cómo se llama mi {animal}?|¿Te acuerdas de cómo se llama mi {animal}?",
            "¿Recuerdas el nombre de mi mascota?",
            "Hoy el {animal} rompió un cojín del sofá|Llevé al {animal} al veterinario por una revisión",
        ),
        "job": _c(
            "enfermera|fontanero|arquitecta|carpintero|veterinaria|traductora|electricista|cartero",
            "Trabajo de {v} desde hace cinco años|Soy {v} y me gusta mucho mi trabajo",
            "Cambié de trabajo, ahora trabajo de {v}",
            "¿De qué trabajo?|¿En qué trabajo yo?",
            "¿A qué me dedico profesionalmente?|¿Cuál es mi profesión?",
            "En el trabajo hoy tuvimos una reunión eterna|Mi jefa me pidió un informe para mañana",
        ),
        "allergy": _c(
            "cacahuetes|mariscos|kiwis|anacardos|pistachos|altramuces",
            "Soy alérgico a los {v}|Tengo alergia a los {v}, cuidado con eso",
            "",
            "¿A qué soy alérgico?|¿Tengo alguna alergia?",
            "¿Hay algún alimento que me siente mal?",
            "Hoy estornudé toda la mañana|Fui al médico por unos picores",
        ),
        "birthday": _c(
            "",
            "Mi cumpleaños es el {v}|Cumplo años el {v}",
            "",
            "¿Cuándo es mi cumpleaños?|¿Qué día cumplo años?",
            "¿Recuerdas en qué fecha nací?|¿Qué día vine al mundo?",
            "Tengo que comprar un regalo para una fiesta|Ya estoy mayor, me noto cansado",
        ),
        "project": _c(
            "velero|invernadero|telescopio|acuario|trineo|columpio|gallinero|kayak",
            "Estoy construyendo un {v} en mi tiempo libre|En mis ratos libres estoy montando un {v}",
            "Terminé el {old}; ahora estoy construyendo un {v}",
            "¿Qué estoy construyendo en mi tiempo libre?|¿Qué estoy montando en mis ratos libres?",
            "¿Cómo va aquel proyecto casero de los findes?",
            "Me pasé el sábado en la ferretería|Me hice un corte con la sierra, nada grave",
        ),
        "partner": _c(
            "Andrés|Javier|Sofía|Valeria|Diego|Camila|Tomás|Alba",
            "Mi pareja se llama {v}|Vivo con mi pareja, {v}, desde hace tres años",
            "",
            "¿Cómo se llama mi pareja?",
            "¿Recuerdas el nombre de mi media naranja?",
            "Esta noche cenamos fuera para celebrar|Discutimos por una tontería, ya está arreglado",
        ),
        "hometown": _c(
            "Teruel|Soria|Cuenca|Huesca|Zamora|Lugo|Tarifa|Jaca",
            "Nací en {v}, un pueblo pequeño|Soy de {v}, aunque me fui de allí muy joven",
            "",
            "¿Dónde nací?|¿De dónde soy?",
            "¿Cuál es mi tierra natal?",
            "Echo de menos las fiestas de mi pueblo|Mis abuelos tenían una casa con huerto",
        ),
    },
    "en": {
        "sibling": _c(
            CITIES,
            "My sister {sis} lives in {v}|My sister {sis} has lived in {v} for years",
            "{sis} moved last month and lives in {v} now",
            "Where does my sister {sis} live?|Do you remember where {sis} lives?",
            "Which town is my younger sibling based in?",
            "{sis} called me last night and we talked for ages|My sister {sis} sent me photos of her cat|I miss my sister, I have not seen her in months",
        ),
        "instrument": _c(
            "cello|ukulele|clarinet|accordion|saxophone|bassoon|banjo|trombone",
            "I'm learning to play the {v}|I've been learning the {v} with a teacher",
            "I gave up the {old}, now I'm learning the {v}",
            "What instrument am I learning?|What am I learning to play?",
            "Which music lessons do I take these days?",
            "I practised scales for almost an hour today|My music teacher says I'm improving",
        ),
        "pet": _c(
            "Biscuit|Pickles|Waffles|Ziggy|Pretzel|Noodle|Juniper|Sprocket",
            "I have a {animal} called {v}|My {animal} {v} is a little troublemaker",
            "",
            "What's my {animal} called?|What is my {animal}'s name?",
            "Do you remember the name of our furry friend?",
            "The {animal} chewed a cushion today|I took the {animal} for a check-up",
        ),
        "job": _c(
            "a nurse|a plumber|an architect|a carpenter|a veterinarian|a translator|an electrician|a librarian",
            "I work as {v}|I work as {v}, for five years now",
            "I changed jobs, now I work as {v}",
            "What do I work as?|What kind of work do I do?",
            "What's my profession?|What do I do for a living?",
            "Work was an endless meeting today|My manager wants a report by tomorrow",
        ),
        "allergy": _c(
            "peanuts|shellfish|kiwis|cashews|pistachios|sesame",
            "I'm allergic to {v}|I have an allergy to {v}, so careful",
            "",
            "What am I allergic to?|Do I have any allergy?",
            "Is there any food that makes me ill?",
            "I sneezed all morning today|I saw a doctor about an itchy rash",
        ),
        "birthday": _c(
            "",
            "My birthday is on {v}|I turn a year older on {v}",
            "",
            "When is my birthday?|When do I turn a year older?",
            "What date was I born?",
            "I need to buy a present for a party|I feel old these days",
        ),
        "project": _c(
            "sailboat|greenhouse|telescope|aquarium|sled|treehouse|kayak|birdhouse",
            "I'm building a {v} in my spare time|In my free time I'm putting together a {v}",
            "I finished the {old}, now I'm building a {v}",
            "What am I building in my spare time?|What am I putting together in my free time?",
            "How's that weekend hobby project going?",
            "I spent Saturday at the hardware store|I cut myself with the saw, nothing serious",
        ),
        "partner": _c(
            "Liam|Noah|Ava|Mia|Ethan|Zoe|Owen|Ruby",
            "My partner's name is {v}|I live with my partner {v}",
            "",
            "What's my partner's name?|Who is my partner?",
            "Do you remember who my other half is?",
            "We are eating out tonight to celebrate|We argued about something silly, all fine now",
        ),
        "hometown": _c(
            "Duluth|Tulsa|Boise|Fresno|Dundee|Galway|Wichita|Bangor",
            "I was born in {v}, a small town|I was raised in {v}",
            "",
            "Where was I born?|Where was I raised?",
            "Which place do I originally come from?",
            "I miss the summer fair back home|My grandparents had a house with a vegetable patch",
        ),
    },
}


# Each category's fact as a perfect extractor writes it, (es, en): it holds the answer.
FACT_WORDING = {
    "sibling": ("Su hermana {sis} vive en {v}", "Their sister {sis} lives in {v}"),
    "instrument": ("Está aprendiendo a tocar el {v}", "Is learning to play the {v}"),
    "pet": ("Tiene un {animal} que se llama {v}", "Has a {animal} called {v}"),
    "job": ("Trabaja de {v}", "Works as {v}"),
    "allergy": ("Es alérgico a los {v}", "Is allergic to {v}"),
    "birthday": ("Su cumpleaños es el {v}", "Their birthday is on {v}"),
    "project": ("Está construyendo un {v}", "Is building a {v}"),
    "partner": ("Su pareja se llama {v}", "Their partner is called {v}"),
    "hometown": ("Nació en {v}", "Was born in {v}"),
}
