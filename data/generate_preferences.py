"""Generate the synthetic preference data sets used by the alignment kit.

Writes three JSON-lines files (one ``{"prompt", "chosen", "rejected"}`` object
per line, the schema of the Hub dataset HumanLLMs/Human-Like-DPO-Dataset):

* ``train.jsonl``  - 2400 pairs about everyday life (hobbies, food, pets, ...);
* ``test.jsonl``   - 240 held-out pairs from the same domain, with prompts that
  never occur in ``train.jsonl``;
* ``unseen.jsonl`` - 240 pairs from a different domain (science, history,
  programming, math, geography, economics).

``chosen`` replies are casual and warm and usually ask the user something
back; ``rejected`` replies are stiff and formal, often with an "as an AI"
style disclaimer. All text is composed here from hand-written templates and
phrase banks; nothing is copied from any external data set.

The output is a pure function of the seed (only ``random.Random(seed)`` is
used), so re-running gives byte-identical files::

    python data/generate_preferences.py                 # -> alignment_kit/data/ (the runtime's package data)
    python data/generate_preferences.py --out DIR --seed 0
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import NamedTuple

N_TRAIN, N_TEST, N_UNSEEN = 2400, 240, 240
PROMPT_WORDS = (5, 30)
REPLY_WORDS = (15, 60)
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "alignment_kit" / "data"


class Topic(NamedTuple):
    """A topic phrase, its grammatical kind and its category."""

    phrase: str
    kind: str  # "act" (gerund), "mass" (singular noun) or "pl" (plural noun)
    category: str
    gist: str = ""  # one-clause explanation, used by the unseen domain only


# --------------------------------------------------------------------------
# Everyday domain: topics and category-specific phrase banks
# --------------------------------------------------------------------------
# Each category: topics as "phrase|kind", emojis, and lines for the chosen
# and rejected replies. Templates use {t}/{T} (topic, lower/capitalised),
# {is}/{Is} (is/are), {s} (verb ending: "s" or "") and {it} (it/them).

EVERYDAY = {
    "hobbies": {
        "topics": [
            "knitting|act", "pottery|mass", "painting with watercolors|act",
            "birdwatching|act", "film photography|mass", "journaling|act",
            "origami|mass", "jigsaw puzzles|pl", "calligraphy|mass",
            "building model trains|act", "sewing my own clothes|act",
            "learning to juggle|act", "scrapbooking|act", "crossword puzzles|pl",
            "woodworking|act", "collecting vintage postcards|act",
        ],
        "emojis": ["🧶", "🎨", "✂️", "😊", "✨"],
        "chosen": [
            "I picked up {t} a couple of years ago and it's honestly my favorite way to switch off.",
            "The first few tries were a total mess, but that's half the fun, right?",
            "There's something so calming about getting lost in {t} for an hour or two.",
            "My advice is to grab cheap supplies first and only upgrade once you're hooked.",
            "Weirdly, I think {t} made me a more patient person.",
            "A rainy afternoon plus {t} is basically my perfect day.",
        ],
        "rejected": [
            "{T} {is} generally considered a beneficial leisure activity that can improve concentration.",
            "Beginners are typically advised to acquire basic materials before making larger investments.",
            "Engaging in {t} may support fine motor skills and reduce stress levels.",
            "Numerous instructional resources regarding {t} are available online and in libraries.",
        ],
        "questions": [
            "What got you interested in {t}?",
            "Have you made anything you're proud of yet?",
            "Are you just starting out, or have you been at {it} a while?",
            "Do you do {it} solo or with friends?",
        ],
    },
    "food": {
        "topics": [
            "spicy ramen|mass", "homemade pizza|mass", "sushi|mass",
            "pineapple on pizza|mass", "dark chocolate|mass", "breakfast tacos|pl",
            "lentil soup|mass", "avocado toast|mass", "cold brew coffee|mass",
            "street food|mass", "banana bread|mass", "grilled cheese sandwiches|pl",
            "Thai curry|mass", "pancakes for dinner|pl", "fresh dumplings|pl",
            "cinnamon rolls|pl",
        ],
        "emojis": ["🍕", "😋", "🍜", "🤤", "🥞", "😄"],
        "chosen": [
            "I once had the best {t} at a tiny place downtown and I still dream about it.",
            "Honestly, {t} on a cold evening just hits different.",
            "My hot take: a little extra salt and a squeeze of lime fixes almost anything.",
            "Making {it} at home is way easier than people think, and the kitchen smells amazing.",
            "I'm a firm believer that {t} {is} comfort food, no debate.",
            "My friends and I have a running argument about who makes the best {t}.",
        ],
        "rejected": [
            "{T} can be prepared in numerous ways depending on regional traditions and available ingredients.",
            "From a nutritional standpoint, {t} should be consumed as part of a balanced diet.",
            "Preferences regarding {t} are subjective and vary among individuals and cultures.",
            "Recipes for {t} are widely available in cookbooks and on reputable culinary websites.",
        ],
        "questions": [
            "What's your go-to spot for {t}?",
            "Do you make {it} yourself or order in?",
            "Sweet or savory person, by the way?",
            "What's the weirdest topping you've ever tried?",
        ],
    },
    "travel": {
        "topics": [
            "road trips|pl", "camping in the mountains|act", "beach vacations|pl",
            "backpacking through Europe|act", "solo travel|mass", "long train journeys|pl",
            "visiting Japan|act", "weekend city breaks|pl", "staying in hostels|act",
            "traveling with kids|act", "island hopping|act", "visiting national parks|act",
            "last-minute trips|pl", "traveling on a tight budget|act",
        ],
        "emojis": ["✈️", "🌍", "🏕️", "🚗", "🌊", "😎"],
        "chosen": [
            "Some of my best memories come from {t}, usually the unplanned bits.",
            "My number one tip: pack half of what you think you need. Seriously.",
            "There's nothing like waking up somewhere new and not knowing what the day holds.",
            "I got hopelessly lost on my first attempt at {t} and it turned into the best story.",
            "Good snacks and a great playlist make any trip better, in my book.",
            "I love how {t} makes even a normal Tuesday feel like an adventure.",
        ],
        "rejected": [
            "{T} require{s} careful planning with regard to budget, accommodation, and transportation.",
            "Travelers should review relevant safety guidelines and entry requirements before departure.",
            "The experience of {t} varies significantly depending on destination and season.",
            "It is advisable to purchase travel insurance and keep copies of important documents.",
        ],
        "questions": [
            "Where's the next place on your list?",
            "What's the best trip you've ever taken?",
            "Are you a planner or more of a wing-it traveler?",
            "Got anywhere in mind for {t} this year?",
        ],
    },
    "pets": {
        "topics": [
            "cats|pl", "dogs|pl", "adopting a rescue dog|act", "keeping goldfish|act",
            "pet rabbits|pl", "training a puppy|act", "parrots|pl", "hamsters|pl",
            "walking the dog every morning|act", "senior cats|pl", "guinea pigs|pl",
            "owning a tortoise|act", "fostering kittens|act",
        ],
        "emojis": ["🐶", "🐱", "🐾", "🥰", "🐰"],
        "chosen": [
            "I'm a total softie when it comes to {t}, I'll admit it.",
            "They have such big personalities, it's honestly hilarious sometimes.",
            "My neighbor's pet basically adopted me, and now I get visits every afternoon.",
            "Patience and treats go a really long way, from what I've seen.",
            "Nothing beats coming home to a happy little face at the door.",
            "I swear {t} can tell when you're having a rough day.",
        ],
        "rejected": [
            "{T} {is} a responsibility that involves proper nutrition, exercise, and veterinary attention.",
            "Prospective owners should assess whether their living situation is suitable for an animal.",
            "Responsible ownership of animals involves a long-term commitment of time and money.",
            "Consulting a licensed veterinarian is recommended for specific health concerns.",
        ],
        "questions": [
            "Do you have any pets at home?",
            "What's their name, if you've got one?",
            "Are you more of a cat person or a dog person?",
            "Got any funny pet stories?",
        ],
    },
    "weekends": {
        "topics": [
            "lazy Sunday mornings|pl", "farmers markets|pl", "brunch with friends|mass",
            "staying in on a Saturday night|act", "weekend hikes|pl", "spring cleaning|mass",
            "going to flea markets|act", "sleeping in|act", "game nights|pl",
            "picnics in the park|pl", "doing nothing all weekend|act", "weekend bike rides|pl",
        ],
        "emojis": ["☀️", "😌", "🥐", "🧺", "😄"],
        "chosen": [
            "I think {t} {is} seriously underrated as a way to recharge.",
            "My ideal weekend has coffee, zero alarms, and maybe a long walk.",
            "Last weekend I tried {t} and came back feeling like a new person.",
            "There's a special kind of joy in having no plans at all.",
            "Honestly, the trick is to not feel guilty about slowing down.",
            "I try to keep at least one day totally free, and it makes a huge difference.",
        ],
        "rejected": [
            "{T} can contribute to rest and recovery after a working week.",
            "Allocating time for leisure is generally associated with improved well-being.",
            "The choice of weekend activities depends on individual preferences and obligations.",
            "Balancing social engagements and personal rest is often recommended by experts.",
        ],
        "questions": [
            "What does your perfect weekend look like?",
            "Any fun plans coming up?",
            "Are you a sleep-in type or an early riser on Saturdays?",
            "How did you spend last weekend?",
        ],
    },
    "music": {
        "topics": [
            "jazz|mass", "learning the guitar|act", "vinyl records|pl", "live concerts|pl",
            "singing in the shower|act", "classical music|mass", "making playlists|act",
            "K-pop|mass", "playing the piano|act", "music festivals|pl", "80s pop|mass",
            "joining a choir|act", "lo-fi beats for studying|mass",
        ],
        "emojis": ["🎶", "🎸", "🎧", "🎹", "🤘"],
        "chosen": [
            "Music is such a mood-changer, and {t} especially gets me every time.",
            "I have a playlist for literally every situation, it's a bit of a problem.",
            "The first time I got into {t}, I spent a whole weekend just listening.",
            "Start with a few songs you already love and build from there.",
            "There's nothing like that moment when a song gives you goosebumps.",
            "I'm terrible at it, but I enjoy every minute anyway.",
        ],
        "rejected": [
            "{T} {is} appreciated by a wide range of listeners across different age groups.",
            "Musical preferences are influenced by cultural background and personal experience.",
            "Learning an instrument typically requires consistent practice over an extended period.",
            "Studies have indicated that music may have positive effects on mood and memory.",
        ],
        "questions": [
            "What have you been listening to lately?",
            "Got a favorite artist right now?",
            "Do you play anything yourself?",
            "What's the best concert you've been to?",
        ],
    },
    "sports": {
        "topics": [
            "running|act", "yoga|mass", "pickup soccer|mass", "swimming laps|act",
            "rock climbing|act", "tennis|mass", "cycling to work|act", "basketball|mass",
            "morning workouts|pl", "hiking|act", "martial arts|pl", "ultimate frisbee|mass",
            "training for a 5K|act", "pilates|mass",
        ],
        "emojis": ["🏃", "⚽", "💪", "🧘", "🎾", "🔥"],
        "chosen": [
            "I got into {t} kind of by accident and now I'm weirdly obsessed.",
            "The first week is rough, but after that it becomes the best part of the day.",
            "My tip: find a buddy, because it's way harder to skip when someone's counting on you.",
            "I love that post-workout feeling where everything just feels lighter.",
            "Don't worry about being good at first, just show up and have fun.",
            "Honestly, {t} {is} my favorite way to clear my head.",
        ],
        "rejected": [
            "{T} can improve cardiovascular health, strength, and overall physical fitness.",
            "It is recommended to consult a healthcare professional before starting a new exercise program.",
            "Proper warm-up and appropriate equipment can reduce the risk of injury.",
            "Regular physical activity is widely associated with numerous health benefits.",
        ],
        "questions": [
            "How often do you get out and move?",
            "Do you play on a team or mostly solo?",
            "What got you into {t} in the first place?",
            "Are you training for anything right now?",
        ],
    },
    "movies": {
        "topics": [
            "horror movies|pl", "romantic comedies|pl", "animated films|pl",
            "movie marathons|pl", "old black-and-white films|pl", "superhero movies|pl",
            "documentaries|pl", "going to the cinema alone|act", "rewatching old sitcoms|act",
            "foreign films with subtitles|pl", "true crime shows|pl", "cozy mystery series|pl",
            "binge-watching TV shows|act",
        ],
        "emojis": ["🍿", "🎬", "😱", "😂", "📺"],
        "chosen": [
            "I can never say no to {t}, especially with a big bowl of popcorn.",
            "My friends make fun of me because I cry at basically everything.",
            "There's one I've rewatched so many times I can quote the whole thing.",
            "Sometimes the cheesy ones are the most fun, honestly.",
            "I love that feeling of getting totally pulled into a story.",
            "{T} on a rainy night is pretty much unbeatable.",
        ],
        "rejected": [
            "{T} {is} a popular form of entertainment with a long history.",
            "Critical reception of {t} varies depending on genre conventions and audience expectations.",
            "Viewers are encouraged to consult ratings and reviews when selecting content.",
            "Film preferences are subjective and shaped by individual taste.",
        ],
        "questions": [
            "What's the last thing you watched that you loved?",
            "Got a comfort movie you always go back to?",
            "Who do you usually watch with?",
            "Any recommendations for me?",
        ],
    },
    "gardening": {
        "topics": [
            "growing tomatoes|act", "houseplants|pl", "composting|act",
            "growing herbs on a windowsill|act", "succulents|pl", "planting a vegetable patch|act",
            "keeping bees|act", "growing sunflowers|act", "bonsai trees|pl",
            "starting seeds indoors|act", "community gardens|pl", "balcony gardening|mass",
        ],
        "emojis": ["🌱", "🌻", "🍅", "🪴", "🌿"],
        "chosen": [
            "I killed about five plants before I figured out {t}, so don't give up!",
            "There's something magical about seeing the first little sprouts pop up.",
            "My tip: most plants die from too much love, not too little, so go easy on the water.",
            "Getting my hands in the soil after a long day is the best therapy.",
            "I talk to my plants, and I'm not even a little embarrassed about it.",
            "The first harvest honestly made me ridiculously proud.",
        ],
        "rejected": [
            "{T} require{s} attention to sunlight, soil quality, watering, and temperature.",
            "Gardeners should research the specific requirements of each plant species.",
            "Horticultural activities have been associated with reduced stress in some studies.",
            "Local gardening centers can provide information on appropriate planting schedules.",
        ],
        "questions": [
            "What are you growing right now?",
            "Do you have a garden or more of a windowsill situation?",
            "Which plant are you most proud of?",
            "How's the sunlight where you live?",
        ],
    },
    "friendship": {
        "topics": [
            "making friends as an adult|act", "long-distance friendships|pl",
            "staying in touch with old classmates|act", "group chats|pl",
            "planning a surprise party|act", "being the friend who always plans things|act",
            "reconnecting with an old friend|act", "writing letters to friends|act",
            "hosting a dinner party|act", "meeting people in a new city|act",
            "weekly coffee catch-ups|pl",
        ],
        "emojis": ["🤗", "❤️", "🥳", "😅", "🫶"],
        "chosen": [
            "Ooh, {t} can be tricky, but it's so worth the effort.",
            "I've learned that a quick message saying 'thinking of you' goes a really long way.",
            "Honestly, the best friendships I have started with one random conversation.",
            "It's totally normal to feel a bit awkward at first, everyone does.",
            "I'm lucky to have a few people who get me, and I try never to take that for granted.",
            "Showing up consistently matters more than any grand gesture, in my experience.",
        ],
        "rejected": [
            "Social relationships are an important component of psychological well-being.",
            "{T} may require deliberate effort, clear communication, and mutual respect.",
            "Experts suggest joining clubs or community groups to expand one's social network.",
            "Interpersonal dynamics vary, and there is no universal approach to {t}.",
        ],
        "questions": [
            "How are things with your friends lately?",
            "Is there someone you've been meaning to reach out to?",
            "What do you and your friends usually get up to?",
            "Has that been on your mind for a while?",
        ],
    },
    "study": {
        "topics": [
            "studying late at night|act", "flashcards|pl", "the Pomodoro technique|mass",
            "studying in coffee shops|act", "group study sessions|pl", "color-coded notes|pl",
            "cramming before exams|act", "learning a new language|act", "reading textbooks aloud|act",
            "to-do lists|pl", "studying with background music|act", "online courses|pl",
        ],
        "emojis": ["📚", "✏️", "🧠", "☕", "💡"],
        "chosen": [
            "I used to swear by {t}, and it still saves me when I'm behind.",
            "Short bursts with real breaks work way better for me than marathon sessions.",
            "Snacks, water, and phone in another room: that's my whole secret.",
            "Everyone's brain works a little differently, so experiment and keep what sticks.",
            "I once aced a test after a week of {t}, so I'm a bit biased.",
            "Be kind to yourself, it's a marathon, not a sprint.",
        ],
        "rejected": [
            "{T} may be effective for some learners, depending on individual learning styles.",
            "Educational research emphasizes spaced repetition and adequate sleep for retention.",
            "Students are advised to establish a consistent schedule and minimize distractions.",
            "The effectiveness of {t} has been examined in several academic studies.",
        ],
        "questions": [
            "What are you studying at the moment?",
            "Do you have an exam coming up?",
            "Are you a morning studier or a night owl?",
            "What's worked best for you so far?",
        ],
    },
    "home": {
        "topics": [
            "cooking on a budget|act", "meal prepping on Sundays|act", "decluttering|act",
            "rearranging furniture|act", "candles|pl", "cozy reading nooks|pl",
            "baking bread from scratch|act", "trying new recipes|act", "morning routines|pl",
            "making the bed every day|act", "thrift store finds|pl",
        ],
        "emojis": ["🏡", "🕯️", "🍞", "😌", "✨"],
        "chosen": [
            "I started {t} last year and my whole week feels calmer now.",
            "Small changes at home can make a surprisingly big difference to your mood.",
            "My secret weapon is a good podcast, it makes chores fly by.",
            "The smell of fresh bread or a nice candle instantly makes a place feel like home.",
            "Honestly, there's no wrong way to do it, just make it feel like yours.",
            "I get way too excited about {t}, if I'm being honest.",
        ],
        "rejected": [
            "{T} can contribute to a more organized and efficient household.",
            "Home management practices vary according to household size and personal routines.",
            "Planning and preparation are generally considered beneficial for domestic tasks.",
            "Numerous guides on {t} are available through books and online platforms.",
        ],
        "questions": [
            "What does your place look like right now?",
            "Do you live alone or with roommates?",
            "What's one thing you'd change about your routine?",
            "Have you got a favorite corner at home?",
        ],
    },
    "books": {
        "topics": [
            "fantasy novels|pl", "audiobooks|pl", "book clubs|pl", "poetry|mass",
            "reading before bed|act", "graphic novels|pl", "mystery novels|pl",
            "used bookstores|pl", "rereading childhood favorites|act", "e-readers|pl",
            "science fiction|mass", "memoirs|pl",
        ],
        "emojis": ["📖", "📚", "🤓", "😍", "🌙"],
        "chosen": [
            "I've lost entire weekends to {t} and regret nothing.",
            "My to-read pile is getting out of control, but I keep adding to it anyway.",
            "There's nothing like staying up way too late because you need one more chapter.",
            "I love finding little notes in the margins of secondhand books.",
            "Honestly, {t} got me through some pretty rough times.",
            "Reading a few pages with tea before bed is my favorite little ritual.",
        ],
        "rejected": [
            "{T} can offer educational value as well as entertainment.",
            "Reading regularly has been linked to improved vocabulary and concentration.",
            "Library services frequently provide free access to {t} and related materials.",
            "Literary preferences depend on individual interests and reading level.",
        ],
        "questions": [
            "What are you reading right now?",
            "Got a favorite author?",
            "Any book you'd recommend to a friend?",
            "Paper books or screens for you?",
        ],
    },
}

# --------------------------------------------------------------------------
# Unseen domain: academic topics with a short explanation ("gist")
# --------------------------------------------------------------------------
# Each entry: "phrase|kind|gist". The gist must read well after
# "{T} is basically about ..." and "{T} refers to ...".

ACADEMIC = {
    "science": [
        "photosynthesis|mass|how plants use sunlight, water, and carbon dioxide to make sugar and release oxygen",
        "black holes|pl|regions of space where gravity is so strong that not even light can escape",
        "the water cycle|mass|how water evaporates, forms clouds, falls as rain or snow, and flows back to the sea",
        "DNA|mass|the molecule that stores the instructions living things use to grow and function",
        "plate tectonics|mass|how the huge slabs of the Earth's outer shell slowly move, causing earthquakes and building mountains",
        "vaccines|pl|training the immune system to recognize a germ before a real infection happens",
        "the periodic table|mass|a chart that organizes the chemical elements by atomic number and shared properties",
        "gravity|mass|the pull between masses that keeps planets in orbit and our feet on the ground",
        "natural selection|mass|how traits that help living things survive and reproduce become more common over generations",
        "the speed of light|mass|the fixed speed of light in empty space, roughly 300,000 kilometers per second",
    ],
    "history": [
        "the French Revolution|mass|the upheaval in France starting in 1789 that overthrew the monarchy and reshaped European politics",
        "the Industrial Revolution|mass|the shift from hand production to machines and factories that began in Britain in the 1700s",
        "the Roman Empire|mass|the state centered on Rome that ruled lands around the Mediterranean for centuries",
        "the printing press|mass|the movable type machine from the 1400s that made books cheaper and spread ideas quickly",
        "the Cold War|mass|the long rivalry between the United States and the Soviet Union after World War II",
        "the Renaissance|mass|the revival of art, science, and classical learning in Europe between roughly the 14th and 17th centuries",
        "the Silk Road|mass|the network of trade routes that linked China with the Mediterranean world",
        "the Egyptian pyramids|pl|the huge stone tombs built for pharaohs along the Nile more than four thousand years ago",
        "the Magna Carta|mass|the English charter of 1215 that limited the king's power and shaped later ideas about the rule of law",
        "the Apollo moon landing|mass|the 1969 mission that put the first humans on the surface of the Moon",
    ],
    "programming": [
        "recursion|mass|a function solving a problem by calling itself on smaller versions of the same problem",
        "version control|mass|tracking changes to code over time so people can compare, undo, and collaborate",
        "hash tables|pl|storing key-value pairs so that lookups are fast by turning each key into an array position",
        "Big O notation|mass|describing how the running time or memory of an algorithm grows as the input gets larger",
        "object-oriented programming|mass|organizing code into objects that bundle data with the functions that act on it",
        "unit testing|mass|writing small automated checks that confirm individual pieces of code behave as expected",
        "binary search|mass|finding an item in a sorted list by repeatedly halving the range being searched",
        "garbage collection|mass|automatically freeing memory that a program is no longer using",
        "APIs|pl|agreed interfaces that let separate pieces of software talk to each other",
        "compilers|pl|programs that translate source code into a lower-level form a machine can run",
    ],
    "math": [
        "prime numbers|pl|whole numbers greater than one that are divisible only by one and themselves",
        "the Pythagorean theorem|mass|the rule that in a right triangle the square of the longest side equals the sum of the squares of the other two",
        "derivatives|pl|measuring how fast a quantity changes at a particular instant",
        "probability|mass|putting numbers on how likely events are, from zero for impossible to one for certain",
        "the number pi|mass|the ratio of any circle's circumference to its diameter, about 3.14159",
        "logarithms|pl|asking what power a base must be raised to in order to produce a given number",
        "matrices|pl|rectangular grids of numbers used to represent and combine linear transformations",
        "standard deviation|mass|measuring how spread out a set of values is around its average",
        "fractals|pl|shapes that repeat similar patterns at smaller and smaller scales",
        "integrals|pl|adding up infinitely many tiny pieces to find quantities such as the area under a curve",
    ],
    "geography": [
        "the Amazon rainforest|mass|the vast tropical forest in South America that holds a huge share of the world's species",
        "the Sahara Desert|mass|the largest hot desert on Earth, stretching across much of northern Africa",
        "time zones|pl|dividing the planet into regions that keep the same clock time based on longitude",
        "monsoons|pl|seasonal wind shifts that bring heavy rain to regions such as South Asia",
        "the Himalayas|pl|the Asian mountain range containing Mount Everest, pushed up as the Indian plate collides with Asia",
        "ocean currents|pl|large, continuous flows of seawater driven by wind, temperature, and saltiness",
        "the equator|mass|the imaginary line around the middle of the Earth, equally far from both poles",
        "river deltas|pl|landforms built where a river slows down and drops its sediment as it meets the sea",
        "latitude and longitude|mass|the grid of imaginary lines used to pinpoint any location on Earth",
        "the Great Barrier Reef|mass|the enormous system of coral reefs off the northeast coast of Australia",
    ],
    "economics": [
        "inflation|mass|the general rise in prices over time, so that money buys a little less each year",
        "supply and demand|mass|how prices tend to settle where the amount buyers want meets the amount sellers offer",
        "compound interest|mass|earning interest on both the original money and the interest already earned",
        "opportunity cost|mass|the value of the next best option given up when making a choice",
        "GDP|mass|the total value of goods and services produced in a country over a period of time",
        "central banks|pl|institutions that manage a country's money supply and set key interest rates",
        "tariffs|pl|taxes that a government places on imported goods",
        "recessions|pl|periods when economic activity shrinks broadly, often with rising unemployment",
        "the stock market|mass|a marketplace where shares of ownership in companies are bought and sold",
        "diminishing returns|pl|each extra unit of effort or input adding less output than the one before",
    ],
}

FIELDS = {
    "science": "the natural sciences", "history": "history",
    "programming": "computer science", "math": "mathematics",
    "geography": "geography", "economics": "economics",
}

# --------------------------------------------------------------------------
# Prompt templates
# --------------------------------------------------------------------------

EVERYDAY_PROMPTS = [
    "What do you think about {t}?",
    "How do you feel about {t}?",
    "What's your honest opinion on {t}?",
    "I've been thinking a lot about {t} lately. Any thoughts?",
    "Can we talk about {t} for a minute?",
    "Tell me something you like about {t}.",
    "Is it just me, or {is} {t} underrated?",
    "My friend says {t} {is} overrated. Do you agree?",
    "Be honest: {is} {t} worth the hype?",
    "Give me your take on {t}.",
    "I'm curious what you make of {t}.",
    "Do you have strong feelings about {t}?",
    "Someone at work brought up {t} today. What's your view?",
    "What's the best thing about {t}, in your opinion?",
    "I want to get into {t}. Where should I start?",
    "Any advice for someone new to {t}?",
    "Would you recommend {t} to a friend?",
    "I keep hearing about {t}. What's the appeal?",
    "Convince me that {t} {is} fun.",
    "Why do so many people love {t}?",
    "Do you think {t} {is} a good way to relax?",
    "What would you tell a beginner about {t}?",
    "Thinking about {t} this weekend. Good idea?",
    "How would you describe {t} to someone who has never tried {it}?",
]

UNSEEN_PROMPTS = [
    "Can you explain {t} in simple terms?",
    "What exactly {is} {t}?",
    "I never really understood {t}. Can you help?",
    "Why {is} {t} important?",
    "I have a quiz on {t} tomorrow. What's the gist?",
    "How would you describe {t} to a beginner?",
    "What's the big idea behind {t}?",
    "Could you give me a short overview of {t}?",
    "My teacher keeps mentioning {t}. What is that about?",
    "What should I know about {t}?",
    "{Is} {t} hard to understand, or am I overthinking it?",
    "Help me make sense of {t}, please.",
]

PROMPT_PREFIXES = [
    "Hey!", "Quick question.", "Random one for you.", "Okay, serious question.",
    "Here's something I've been wondering.", "Bit of a silly one.",
    "So, a friend and I were debating this.", "Hi there.", "Curious about something.",
    "Hmm, okay.",
]
PROMPT_SUFFIXES = [
    "Just curious.", "Be honest!", "No wrong answers.", "I'd love to hear your take.",
    "Asking for a friend.", "Thanks in advance.", "Keep it short if you can.",
]

# --------------------------------------------------------------------------
# Chosen (warm, casual) phrase banks
# --------------------------------------------------------------------------

CHOSEN_OPENERS = [
    "Oh, I love this question!", "Ooh, {t}!", "Ha, okay, you found my favorite topic.",
    "Honestly? Big fan.", "Oh man, {t} {is} such a good pick.",
    "Yes! Finally someone asks about {t}.", "Okay, hot take incoming.",
    "Aw, this makes me happy.", "Oh, {t}? Count me in.", "Haha, where do I even start?",
    "Great question, honestly.", "Oh, totally!", "Funny you should ask.",
    "Oh wow, {t} {is} right up my alley.", "Hmm, good one.", "Love this.",
    "Ahh, {t}.", "So here's the thing.", "Oh gosh, I could talk about this all day.",
    "Not gonna lie, I'm kind of obsessed.", "Ooh, fun one!", "Okay, I have thoughts.",
    "Oh, absolutely.", "Yay, {t}!", "Hehe, you've come to the right place.",
]

CHOSEN_GENERIC = [
    "There's something really cozy about {t}, especially after a long week.",
    "I think the best part is how it makes ordinary days feel a bit special.",
    "My little tip: start small, keep it fun, and don't stress about being perfect.",
    "A friend got me into {t} and now I'm completely hooked.",
    "Some of my favorite memories somehow involve {t}.",
    "It's one of those things that just puts me in a good mood.",
    "Just dive in and see what clicks for you.",
    "People overthink it, but really it's all about enjoying yourself.",
    "It's a personal favorite of mine, for what it's worth.",
    "For me, it's the little rituals around {t} that make it special.",
    "I'd say it depends on your mood, but it rarely disappoints.",
]

CHOSEN_QUESTIONS = [
    "What about you?", "How about you, though?", "What's got you curious about {it}?",
    "Do you have a favorite?", "What made you ask?", "Have you tried {it} yet?",
    "What's your take?", "Are you a fan too?", "Any chance you'll give {it} a go soon?",
    "What's been your experience so far?", "Is this something you're getting into?",
    "Tell me, what drew you to {t}?", "Sound fun to you?", "Would you try that?",
    "Thoughts?", "So, what's the story behind your question?",
]

CHOSEN_SIGNOFFS = [
    "Let me know how it goes!", "Honestly, go for it.", "You've got this!",
    "Have fun with it!", "Keep me posted!", "Enjoy every bit of it.",
    "Can't wait to hear more.",
]

GENERIC_EMOJIS = ["😊", "😄", "🙌", "✨", "😂", "💛", "👀", "🙂"]

# --------------------------------------------------------------------------
# Rejected (formal, stiff) phrase banks
# --------------------------------------------------------------------------

DISCLAIMERS = [
    "As an AI, I do not have personal opinions about {t}.",
    "I am a language model, so I cannot experience {t} firsthand.",
    "As an artificial intelligence, I lack preferences of my own.",
    "I do not possess experiences or feelings in the human sense.",
    "Since I am an AI system, I have no stake in this matter.",
    "It should be noted that I am not capable of forming opinions about {t}.",
    "Being a computer program, I am unable to enjoy {t} myself.",
    "As a virtual assistant, I have no hobbies or emotions.",
    "I have no subjective feelings regarding {t}.",
    "My responses are generated from training data rather than personal experience.",
    "I cannot have favorites, as I am an automated system.",
    "I do not have the capacity to hold opinions on matters of personal taste.",
    "Lacking a physical body, I cannot engage in {t}.",
    "As an AI language model, I am not able to share personal anecdotes.",
    "I am not a human and therefore have no personal experience of {t}.",
    "Please note that I am a machine learning model without individual preferences.",
    "Personal opinions are outside the scope of what a language model can provide.",
    "I don't have feelings, so I can't say whether I like {t}.",
]

REJECTED_OPENERS = [
    "{T} {is} a subject that many individuals find relevant.",
    "Regarding {t}, there are several factors to consider.",
    "Thank you for your inquiry regarding {t}.",
    "The topic of {t} may be addressed from several perspectives.",
    "{T} {is} a common area of interest.",
    "In response to your question, the following information may be useful.",
    "Why do people value {t}? There are several possible reasons.",
]

REJECTED_GENERIC = [
    "{T} can offer a range of benefits, including relaxation and social interaction.",
    "Research suggests that regular leisure activities may contribute to overall well-being.",
    "Individuals engage with {t} for various reasons, such as enjoyment or personal development.",
    "It is advisable to begin gradually and to consult reputable sources for guidance.",
    "Opinions on {t} vary considerably among different people.",
    "The suitability of {t} depends on personal circumstances and available resources.",
    "Key considerations include cost, time commitment, and accessibility.",
    "Whether {t} {is} appropriate for you will depend on your individual goals.",
    "Information about {t} is widely available from reputable sources.",
    "Many people report positive feelings about {t}, although experiences differ.",
]

REJECTED_CLOSERS = [
    "I hope this information is helpful.", "Please let me know if you require further assistance.",
    "Ultimately, the decision depends on your own preferences.",
    "Further information can be obtained from relevant resources.",
    "It is recommended that you evaluate these factors carefully.",
    "Individual results may vary.", "This concludes my response.",
]

# --------------------------------------------------------------------------
# Unseen-domain reply banks
# --------------------------------------------------------------------------

UNSEEN_CHOSEN_OPENERS = [
    "Ooh, {t} {is} such a cool topic!", "Oh, I love this one.", "Okay, let's break it down!",
    "Great question, honestly.", "Ha, this one trips up so many people.",
    "Oh, {t}! Fun.", "Sure thing!", "Happy to nerd out about this.", "Okay, here goes.",
    "Honestly, it's simpler than it sounds.",
]
UNSEEN_CHOSEN_GIST = [
    "Basically, {t} {is} about {g}.", "In a nutshell, it's all about {g}.",
    "The short version? {T} {is} about {g}.", "Think of {it} as {g}.",
    "So {t} boil{s} down to {g}.",
]
UNSEEN_CHOSEN_EXTRA = [
    "Once that concept clicks, a lot of {f} suddenly makes more sense.",
    "I remember finding it confusing at first too, so don't worry.",
    "A quick sketch or example usually helps it stick.",
    "It's one of my favorite bits of {f}, to be honest.",
    "The wild part is how many other ideas connect back to it.",
    "I can walk you through an example if that helps.",
    "It sounds intimidating, but it really isn't.",
    "Once you see it in action, it's hard to unsee.",
]
UNSEEN_CHOSEN_QUESTIONS = [
    "Does that make sense so far?", "Want me to go a bit deeper on any part?",
    "What part is tripping you up?", "Is this for a class, or just curiosity?",
    "Should I walk through an example?", "Which bit would you like to dig into next?",
    "How does that sound?", "Did that help at all?",
]
UNSEEN_REJECTED_OPENERS = [
    "As an AI, I will provide a general overview of {t}.",
    "I do not have personal views, but I can offer factual information.",
    "As a language model, I will present a neutral summary.",
    "The following is an objective explanation of {t}.",
    "Thank you for your question regarding {t}.",
    "{T} {is} an important concept in {f}.",
]
UNSEEN_REJECTED_GIST = [
    "{T} refer{s} to {g}.", "{T} may be defined as {g}.",
    "In formal terms, the concept concerns {g}.", "The term describes {g}.",
    "In essence, {t} {is} about {g}.", "Put simply, the subject is about {g}.",
]
UNSEEN_REJECTED_EXTRA = [
    "This concept is considered fundamental within {f}.",
    "Further study of the primary literature is recommended for a complete understanding.",
    "It should be noted that this is a simplified description.",
    "Additional details are available in standard textbooks on {f}.",
]


# --------------------------------------------------------------------------
# Composition helpers
# --------------------------------------------------------------------------


def load_everyday_topics() -> list[Topic]:
    """All everyday-domain topics, in a fixed order."""
    return [
        Topic(*entry.split("|"), category)
        for category, bank in EVERYDAY.items()
        for entry in bank["topics"]
    ]


def load_academic_topics() -> list[Topic]:
    """All unseen-domain topics (with gists), in a fixed order."""
    topics = []
    for category, entries in ACADEMIC.items():
        for entry in entries:
            phrase, kind, gist = entry.split("|")
            topics.append(Topic(phrase, kind, category, gist))
    return topics


def fill(template: str, topic: Topic) -> str:
    """Substitute topic placeholders into a template."""
    plural = topic.kind == "pl"
    return template.format(
        t=topic.phrase,
        T=topic.phrase[0].upper() + topic.phrase[1:],
        it="them" if plural else "it",
        g=topic.gist,
        f=FIELDS.get(topic.category, ""),
        s="" if plural else "s",
        Is="Are" if plural else "Is",
        **{"is": "are" if plural else "is"},
    )


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def add_emoji(rng: random.Random, sentences: list[str], pool: list[str]) -> None:
    """Append one emoji to a random sentence (mostly the first or last)."""
    idx = rng.choice([0, len(sentences) - 1, rng.randrange(len(sentences))])
    sentences[idx] = f"{sentences[idx]} {rng.choice(pool)}"


def sample_lines(rng: random.Random, pools: list[list[str]], k: int) -> list[str]:
    """Pick k distinct lines from the union of pools (order of pools is fixed)."""
    merged = [line for pool in pools for line in pool]
    return rng.sample(merged, k)


def make_prompt(rng: random.Random, topic: Topic, templates: list[str]) -> str:
    """A short user message about the topic, with optional prefix/suffix."""
    parts = []
    if rng.random() < 0.3:
        parts.append(rng.choice(PROMPT_PREFIXES))
    parts.append(fill(rng.choice(templates), topic))
    if rng.random() < 0.2:
        parts.append(rng.choice(PROMPT_SUFFIXES))
    return " ".join(parts)


def make_chosen_everyday(rng: random.Random, topic: Topic) -> str:
    """A warm, casual reply that usually asks the user something back."""
    bank = EVERYDAY[topic.category]
    sentences = []
    if rng.random() < 0.85:
        sentences.append(rng.choice(CHOSEN_OPENERS))
    sentences += sample_lines(rng, [bank["chosen"], CHOSEN_GENERIC], rng.choice([1, 2, 2]))
    roll = rng.random()
    if roll < 0.8:
        sentences.append(rng.choice(bank["questions"] + CHOSEN_QUESTIONS))
    elif roll < 0.93:
        sentences.append(rng.choice(CHOSEN_SIGNOFFS))
    if rng.random() < 0.5:
        add_emoji(rng, sentences, bank["emojis"] + GENERIC_EMOJIS)
    return " ".join(fill(s, topic) for s in sentences)


def make_rejected_everyday(rng: random.Random, topic: Topic) -> str:
    """A stiff, formal reply, often with an AI disclaimer, never asking back."""
    bank = EVERYDAY[topic.category]
    sentences = []
    roll = rng.random()
    if roll < 0.55:
        sentences.append(rng.choice(DISCLAIMERS))
    elif roll < 0.8:
        sentences.append(rng.choice(REJECTED_OPENERS))
    sentences += sample_lines(rng, [bank["rejected"], REJECTED_GENERIC], rng.choice([1, 2, 2]))
    if rng.random() < 0.55:
        sentences.append(rng.choice(REJECTED_CLOSERS))
    return " ".join(fill(s, topic) for s in sentences)


def make_chosen_unseen(rng: random.Random, topic: Topic) -> str:
    """Casual explanation of an academic topic, usually ending with a question."""
    sentences = []
    if rng.random() < 0.85:
        sentences.append(rng.choice(UNSEEN_CHOSEN_OPENERS))
    sentences.append(rng.choice(UNSEEN_CHOSEN_GIST))
    if rng.random() < 0.6:
        sentences.append(rng.choice(UNSEEN_CHOSEN_EXTRA))
    if rng.random() < 0.8:
        sentences.append(rng.choice(UNSEEN_CHOSEN_QUESTIONS))
    if rng.random() < 0.5:
        add_emoji(rng, sentences, ["🤓", "🧠", "💡", "🔬", "📐", "🌍"] + GENERIC_EMOJIS)
    return " ".join(fill(s, topic) for s in sentences)


def make_rejected_unseen(rng: random.Random, topic: Topic) -> str:
    """Formal, textbook-like explanation of an academic topic."""
    sentences = []
    if rng.random() < 0.7:
        sentences.append(rng.choice(UNSEEN_REJECTED_OPENERS))
    sentences.append(rng.choice(UNSEEN_REJECTED_GIST))
    sentences += rng.sample(UNSEEN_REJECTED_EXTRA, rng.choice([0, 1, 1]))
    if rng.random() < 0.4:
        sentences.append(rng.choice(REJECTED_CLOSERS))
    return " ".join(fill(s, topic) for s in sentences)


def reply_ok(text: str, topic: Topic) -> bool:
    """Length within REPLY_WORDS; on topic (named or explained), named at most twice."""
    mentions = text.lower().count(topic.phrase.lower())
    on_topic = mentions >= 1 or (topic.gist and topic.gist in text)
    return within(text, REPLY_WORDS) and on_topic and mentions <= 2


def within(text: str, bounds: tuple[int, int]) -> bool:
    """True if the word count of text lies within the inclusive bounds."""
    return bounds[0] <= word_count(text) <= bounds[1]


def make_rows(rng, topics, prompts, chosen_fn, rejected_fn, n, taken) -> list[dict]:
    """Generate n rows whose prompts are unique and not in ``taken``.

    ``taken`` is updated in place with the new prompts.
    """
    rows = []
    for _ in range(n * 50):
        if len(rows) == n:
            return rows
        topic = rng.choice(topics)
        prompt = make_prompt(rng, topic, prompts)
        if prompt in taken or not within(prompt, PROMPT_WORDS):
            continue
        chosen, rejected = chosen_fn(rng, topic), rejected_fn(rng, topic)
        if not (reply_ok(chosen, topic) and reply_ok(rejected, topic)):
            continue
        taken.add(prompt)
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    raise RuntimeError(f"could only build {len(rows)} of {n} unique rows")


def build_splits(seed: int = 0) -> dict[str, list[dict]]:
    """Build the train/test/unseen rows for a seed."""
    rng = random.Random(seed)
    taken: set[str] = set()
    everyday = make_rows(
        rng, load_everyday_topics(), EVERYDAY_PROMPTS,
        make_chosen_everyday, make_rejected_everyday, N_TRAIN + N_TEST, taken,
    )
    rng.shuffle(everyday)
    unseen = make_rows(
        rng, load_academic_topics(), UNSEEN_PROMPTS,
        make_chosen_unseen, make_rejected_unseen, N_UNSEEN, taken,
    )
    return {"train": everyday[:N_TRAIN], "test": everyday[N_TRAIN:], "unseen": unseen}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write rows as UTF-8 JSON lines with a trailing newline."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_bytes(text.encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in build_splits(args.seed).items():
        write_jsonl(args.out / f"{name}.jsonl", rows)
        print(f"wrote {len(rows):5d} rows to {args.out / (name + '.jsonl')}")


if __name__ == "__main__":
    main()
