"""Generate refusal training data: questions the help center does not answer.

    PYTHONPATH=. .venv/bin/python data/tools/make_refusals.py

Reads the hand-written customer questions below (none of them answered by data/kb),
runs the real search for each one (`retrieval.search.Searcher` over data/kb, k=4,
min_score=0.0, the same settings as the other training files, so every search returns
four related passages that don't answer: realistic hard negatives) and writes:

- data/refusals/sft.jsonl: one dialogue per line, user -> search_knowledge_base call ->
  tool result (`assistant.dialogue`) -> a decline that offers a person from the support
  team. FOLLOW_UPS are two-turn dialogues: an answerable question with a short cited
  answer written from its passage, then an unanswerable follow-up and its decline.
- data/refusals/dpo.jsonl: pairs of kind "unanswerable" for other questions: prompt =
  question, search call and tool result; chosen = the decline; rejected = a confident
  invented answer that cites a passage.

Nothing is written when a check fails (exit status 1). The checks:
- no question equals, or shares 80% or more of its word set with, a question in
  data/eval/questions.jsonl, and none touches the topics of the evaluation's
  unanswerable questions (AVOID);
- the terms listed with a question (words any real answer would need) don't occur in
  data/kb;
- no question repeats another one here or in the existing training files;
- every decline matches the product's refusal pattern, cites nothing and offers a
  person from the support team;
- every cited answer's [n] exists in its tool result, the cited passage holds the
  listed text, and every number in the answer occurs in that passage; every rejected
  answer cites a passage that exists.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KB_DIR = ROOT / "data" / "kb"
EVAL_FILE = ROOT / "data" / "eval" / "questions.jsonl"
SFT_OUT = ROOT / "data" / "refusals" / "sft.jsonl"
DPO_OUT = ROOT / "data" / "refusals" / "dpo.jsonl"
K = 4
SEED = 20240611

# The product's refusal detector (assistant/assistant.py).
REFUSAL_RE = re.compile(r"\b(don't|do not|can't|cannot) (know|find|answer|see)\b", re.IGNORECASE)
CITATION_RE = re.compile(r"\[(\d+)\]")

# Decline wordings. The first is the served message; most dialogues use it.
SERVED = "I don't know that from our help center. Would you like me to connect you with a person from our support team?"
REPLIES = [
    (SERVED, 60),
    ("Sorry, I can't find the answer to that in our help center. Would you like to talk to a person from our support team?", 10),
    ("That isn't covered in our help center, so I can't answer it reliably. Would you like me to connect you with a person from our support team?", 8),
    ("I don't know — our help center doesn't cover that. Would you like me to connect you with a person from our support team?", 8),
    ("I can't find that in our help center, so I'd rather not guess. Shall I connect you with a person from our support team?", 7),
    ("Sorry, I don't know that from our help center. A person from our support team can help — would you like me to connect you?", 7),
]

# Topics of the evaluation's unanswerable questions: kept out of training so the
# evaluation stays held out.
AVOID = re.compile(
    r"hiring|\bjobs?\b|careers?|\bceo\b|stock market|ticker|investor|revenue|founded|showroom|refer a friend|"
    r"referral|affiliate|influencer|merch|hoodie|bug bounty|manufactur|made in|carbon|gift ?wrap|loyalty|"
    r"military|veteran|teacher|dolby|atmos|spatial|head tracking|impedance|\bohms?\b|frequency response|"
    r"decibel|\bdb\b|latency|ps5|playstation|xbox|console|gaming|boom mic|soundbar|\bamp\b|\bdac\b|"
    r"wall mount|bracket|alexa|google assistant|\bsiri\b|voice command|le audio|auracast|hearing aid|"
    r"hearing test|volume limit|store credit card|sample rate|bit depth|\bbeta\b|product idea|speakerphone",
    re.IGNORECASE,
)

# Single-turn SFT declines: (question, search query, terms that don't occur in the KB).
SINGLE = [
    ("will my pods 2 connect to the bluetooth in my 2017 honda civic?", "Pods 2 Honda Civic car Bluetooth", ["honda"]),
    ("hi, does the kestrel app work on a huawei phone that doesnt have google play? mine is a P40",
     "Kestrel app Huawei phone without Google Play", ["huawei", "appgallery"]),
    ("Can I connect my Arc Lite to my Samsung smart TV?", "Arc Lite connect to smart TV", ["smart tv"]),
    ("can the hub stream music from my plex server on my NAS", "Hub Plex NAS media server", ["plex", "nas", "dlna"]),
    ("Does the Kestrel Hub support Spotify Connect?", "Hub Spotify Connect", ["spotify"]),
    ("is there an API or SDK so i can write my own script to control my hubs?", "Kestrel Hub API SDK", ["api", "sdk"]),
    ("what colours does the dome come in", "Dome colour options", []),
    ("I have a latex allergy — are the Pods 2 ear tips latex-free?", "Pods 2 ear tips latex allergy", ["latex", "allerg"]),
    ("can i use comply foam tips on pods 2 or do only yours fit", "Pods 2 foam ear tips third-party", ["comply", "foam"]),
    ("Can you sleep with the Pods 2 in? I'm a side sleeper", "sleeping with Pods 2 side sleeper", ["side sleep"]),
    ("does the dome have an fm radio in it", "Dome FM radio", ["fm"]),
    ("Is there an aux input on the Dome Max? want to plug my old ipod in", "Dome Max aux input", ["aux", "line-in", "line in"]),
    ("is there a left/right balance slider for the arc in the app? i want the left side a bit louder",
     "Arc left right audio balance setting", ["audio balance", "left/right balance", "channel balance"]),
    ("does my arc switch itself off if i leave it on the desk all afternoon? keep finding it flat",
     "Arc auto power off when idle", []),
    ("do the pods 2 pause the music when you take one out of your ear?", "Pods 2 pause when earbud removed",
     ["in-ear detection", "ear detection"]),
    ("can me and my girlfriend both listen to my phone with two pairs of Pods 2 at the same time?",
     "share audio to two pairs of Pods 2", ["audio sharing", "share audio"]),
    ("how do i turn off the voice prompts on my dome, the battery low voice is so annoying at night",
     "turn off Dome voice prompts", []),
    ("Can I change the voice prompts on my Arc to Spanish?", "Arc voice prompt language", ["spanish"]),
    ("kestrel app dark mode??", "Kestrel app dark mode", ["dark mode"]),
    ("can i switch the kestrel app to polish? my mum doesn't read english", "Kestrel app language Polish", ["polish"]),
    ("the kestrel app is eating like 25% of my battery a day in the background, is that normal??",
     "Kestrel app phone battery drain background", ["battery drain"]),
    ("I accidentally made two Kestrel accounts with different emails. Can you merge them into one?",
     "merge two Kestrel accounts", ["merge"]),
    ("can you guys fix my sony wh-1000xm4? the hinge snapped", "repair other brand headphones Sony", ["sony"]),
    ("can I buy a replacement power cable for the hub? my dog chewed through it", "Hub replacement power cable", []),
    ("the rubber flap over my dome's charging port ripped off, can i get a new one", "Dome replacement rubber port flap", []),
    ("Do you publish repair manuals or schematics? I repair headphones as a hobby.", "repair manuals schematics",
     ["schematic", "repair manual"]),
    ("my arc creaks every time i turn my head, drives me nuts", "Arc headband creaking noise", ["creak"]),
    ("can the hub be used as an alarm clock in the morning", "Hub alarm clock", ["alarm"]),
    ("Is there a sleep timer on the Hub so it stops after 30 minutes?", "Hub sleep timer", ["sleep timer"]),
    ("is it legal to cycle with one pods sport in? I'm in the UK", "cycling with earbuds UK law",
     ["cycling", "cyclist", "highway code"]),
    ("what's new in dome firmware 2.6.1?", "Dome firmware 2.6.1 release notes", ["release notes", "changelog"]),
    ("I run a small hifi shop, can I become a stockist for Kestrel?", "become a Kestrel reseller stockist",
     ["reseller", "stockist", "wholesale"]),
    ("would you donate a dome for our primary school's charity raffle? it's for a new playground",
     "product donation charity raffle", ["donat", "raffle"]),
    ("I'm a journalist writing a piece on wireless earbuds - is there a press office I can email?",
     "press office media contact", ["journalist", "press office"]),
    ("how do i enter the giveaway you posted on instagram", "Instagram giveaway", ["instagram", "giveaway"]),
    ("can I put the Kestrel logo on the flyer for our school disco?", "use Kestrel logo permission", ["logo", "trademark"]),
    ("Is your website usable with a screen reader? I'm blind and the checkout page is hard to get through.",
     "website screen reader accessibility", ["screen reader", "accessib"]),
    ("do you offer support through a video relay service or in sign language?", "support in sign language relay",
     ["sign language", "relay"]),
    ("can i pick a different font for my engraving? also can i add a little heart emoji", "Kestrel Engrave font emoji",
     ["font", "emoji"]),
    ("can I export my custom EQ and send it to my brother so he has the same sound?", "export and share custom EQ",
     ["share eq", "export eq", "import eq"]),
    ("my arc lite headband cushion is peeling, can I buy just that part?", "Arc Lite headband cushion replacement", []),
    ("how big is the dome? want to know if it fits in the side pocket of my backpack", "Dome size dimensions", []),
    ("does the pods 2 case have a loop for a lanyard or strap", "Pods 2 case lanyard loop", ["lanyard"]),
    ("Can my Hub send audio over Bluetooth to my Arc, like a transmitter?", "Hub Bluetooth output to headphones",
     ["transmitter", "transmit audio"]),
    ("need to contact your data protection officer by post — what's the postal address?",
     "data protection officer postal address", ["data protection officer"]),
    ("Pods 2 touch controls dont work with my winter gloves, is there a setting for that?",
     "Pods 2 touch controls with gloves", []),
    ("what bluetooth profiles does the dome support? need AVRCP 1.6 for my car's track info",
     "Dome Bluetooth profiles AVRCP", ["avrcp", "a2dp"]),
    ("does the kestrel hub work on an ipv6-only network", "Hub IPv6 network", ["ipv6"]),
    ("how do I give the hub a static IP? my router keeps giving it a new one", "Hub static IP address",
     ["static ip", "dhcp"]),
    ("can the dome max act as a usb speaker for my laptop if i plug in the usb-c cable?",
     "Dome Max USB-C audio from laptop", []),
    ("is there a wishlist on your website so i can save stuff for later?", "save products to a wishlist",
     ["wishlist", "wish list"]),
    ("how do I delete one order from my order history? don't want it showing in my account",
     "delete an order from order history", []),
    ("how much mobile data does the hub use per hour of streaming?", "Hub data usage streaming per hour",
     ["data usage"]),
    ("is it bad to leave my dome plugged in 24/7 on the shelf? it's basically always charging",
     "leave Dome plugged in all the time", []),
    ("hub volume keeps going back to 50% every morning, why", "Hub volume resets every morning", []),
    ("my arc lite light is blinking purple, what does that mean?", "Arc Lite LED blinking purple", []),
    ("can I change when my arc warns me about low battery? like at 20% instead of waiting till it's almost dead",
     "Arc change low battery warning level", []),
    ("checkout says P06 and won't take my card", "payment error P06", ["p06"]),
    ("can i leave a tip for the delivery driver when i check out?", "tip for delivery driver at checkout",
     ["gratuity"]),
    ("can I choose the colour of the replacement I get from a warranty claim? I'd like Moss this time",
     "choose colour of warranty replacement", []),
    ("has the dome ever been recalled? my neighbour said something about battery problems", "Dome product recall",
     ["recall"]),
    ("does the dome max come with a charger in the box or just a cable?", "Dome Max what's in the box", []),
    ("Can I split one order so half goes to my flat and half to my parents' house?", "ship one order to two addresses", []),
    ("your returns team refused my return because of a tiny scratch. how do i appeal that?", "appeal refused return",
     ["appeal"]),
    ("what size are the drivers in the dome max?", "Dome Max driver size", []),
    ("can I pair my arc with google fast pair, like the popup on android?", "Arc Google Fast Pair", ["fast pair"]),
    ("is there a remote control for the hub? i dont want to use my phone every time", "Hub remote control",
     ["remote control"]),
    ("can the hub play internet radio stations, like tunein or bbc sounds?", "Hub internet radio TuneIn",
     ["tunein", "internet radio", "bbc"]),
    ("how do i delete my account on the kestrel community forum? not my shop account, just the forum",
     "delete Kestrel Community forum account", []),
    ("where can I read the terms and conditions I agreed to when I made my account?", "terms and conditions",
     ["terms and conditions", "terms of sale"]),
    ("will the dome max shoulder strap fit on my regular dome?", "shoulder strap compatibility Dome", []),
    ("why is my dome so much quieter on my iphone than on my old android phone?", "Dome volume quieter on iPhone", []),
    ("kestrel app says 'region not supported' when i try to sign in. I'm in Singapore",
     "Kestrel app region not supported sign in", ["region not supported", "singapore"]),
    ("can I turn off the startup chime on the hub? it wakes the baby when the power flickers",
     "turn off Hub startup sound", ["startup sound", "startup chime"]),
    ("can the pods 2 read out who's calling before i answer?", "Pods 2 announce caller name", ["caller name", "caller id"]),
    ("Does the Dome switch itself on when I plug it in to charge?", "Dome turns on when charging", []),
    ("can i buy a kestrel arc through my work's cycle to work / tech scheme? it's salary sacrifice",
     "buy through employer tech scheme salary sacrifice", ["salary sacrifice", "tech scheme"]),
    ("how much does the pods 2 charging case weigh?", "Pods 2 charging case weight", []),
    ("can I choose which warehouse my order ships from? Columbus is way closer to me than Reno",
     "choose shipping warehouse", []),
    ("can I remap the PartyLink button on my dome to skip tracks instead?", "remap Dome PartyLink button", ["remap"]),
    ("one of your chat agents was really rude to me yesterday. how do i make a formal complaint?",
     "formal complaint about support agent", ["complaint"]),
]

# Two-turn SFT dialogues: an answerable question with a cited answer ({n} = the passage
# holding every `needles` string), then an unanswerable follow-up.
FOLLOW_UPS = [
    dict(first="how long does the dome max take to charge from empty?", first_query="Dome Max full charge time",
         answer="With a 30 W USB-C Power Delivery charger, the Dome Max takes about 4.5 hours to charge fully [{n}].",
         needles=["About 4.5 hours", "30 W USB-C Power Delivery"],
         second="ok and how heavy is it? thinking of strapping it to my backpack for a hike", second_query="Dome Max weight",
         absent=[]),
    dict(first="what's the newest firmware for the pods sport?", first_query="Pods Sport latest firmware version",
         answer="The latest firmware for the Kestrel Pods Sport is 1.8.4 [{n}].",
         needles=["Pods Sport", "1.8.4"],
         second="what changed in that version? they seem to connect faster now",
         second_query="Pods Sport firmware 1.8.4 changes", absent=["release notes", "changelog"]),
    dict(first="what does the mute button on top of the hub do", first_query="Hub Mute button",
         answer="It turns the Hub's built-in microphones off, and the light ring shows solid red while they're off [{n}].",
         needles=["Turns the built-in microphones off"],
         second="can I dim that red light at night? the hub's in our bedroom", second_query="dim Hub light ring at night",
         absent=["dim", "brightness"]),
    dict(first="how do i change the email address on my kestrel account?", first_query="change email address on account",
         answer="Sign in, go to Account > Profile, select Change next to Email and enter your new address and current "
                "password; then open the confirmation link we send to the new address, which is valid for 24 hours [{n}].",
         needles=["**Account > Profile**", "valid for 24 hours"],
         second="thanks. can i change my name on the account as well? i got married",
         second_query="change name on Kestrel account", absent=["surname", "change your name"]),
    dict(first="how long does standard DHL delivery take in the EU?", first_query="EU standard delivery time DHL",
         answer="Standard delivery in the EU goes with DHL Parcel and takes 3–6 working days after dispatch [{n}].",
         needles=["DHL Parcel | 3–6 working days"],
         second="can the driver bring it up to my flat? 4th floor and there's no lift",
         second_query="courier delivery to upstairs flat", absent=["upstairs", "carry the parcel"]),
    dict(first="what are the touch controls for skipping tracks on the pods 2?", first_query="Pods 2 touch controls skip track",
         answer="Triple-tap the right earbud for the next track and triple-tap the left earbud for the previous one [{n}].",
         needles=["Triple-tap right earbud", "Triple-tap left earbud"],
         second="can i rename them so they show up as 'Sam's buds' in my bluetooth list?",
         second_query="rename Pods 2 Bluetooth name", absent=["rename"]),
    dict(first="how much is a replacement pods sport charging case in canada?",
         first_query="Pods Sport replacement charging case price Canada",
         answer="A replacement Kestrel Pods Sport charging case costs CA$52 in the Canada store [{n}].",
         needles=["Kestrel Pods Sport charging case | $39 | CA$52"],
         second="does it come in slate so it matches my earbuds?", second_query="Pods Sport replacement case colour",
         absent=[]),
    dict(first="does turning off bass boost make my dome's battery last longer?", first_query="Dome bass boost battery life",
         answer="Yes — turning off Bass boost in the Kestrel app adds about 2 hours of playback [{n}].",
         needles=["adds about 2 hours of playback"],
         second="could it turn bass boost off by itself when the battery gets low?",
         second_query="Dome bass boost off automatically when battery low", absent=[]),
    dict(first="trade-in value for pods 2 in the UK?", first_query="trade-in credit Pods 2",
         answer="Trade-in credit for the Kestrel Pods 2 is 35 in your store's currency, so £35 in the UK store [{n}].",
         needles=["| Kestrel Pods 2 | 35 |", "store's currency"],
         second="is there ever a bonus on trade-in credit during sales, like black friday?",
         second_query="trade-in bonus credit during sales", absent=["bonus"]),
    dict(first="how long does the arc lite take to fully charge?", first_query="Arc Lite full charge time",
         answer="A full charge of the Arc Lite takes about 2.5 hours, and 10 minutes gives around 4 hours of playback [{n}].",
         needles=["A full charge takes about 2.5 hours, and 10 minutes gives around 4 hours"],
         second="and how many charge cycles before the battery starts wearing out?",
         second_query="Arc Lite battery charge cycles", absent=[]),
    dict(first="where do i check how much is left on my gift card", first_query="check gift card balance",
         answer="Check it at kestrelaudio.example/giftcard, or add the card at checkout, where the remaining balance is "
                "shown before you pay [{n}].",
         needles=["kestrelaudio.example/giftcard"],
         second="can i move whats left onto my friend's gift card? she's ordering something",
         second_query="transfer gift card balance to another gift card", absent=[]),
    dict(first="got a new router, how do I move my hub onto the new wifi?", first_query="Hub change Wi-Fi network new router",
         answer="You don't need to reset it: in the Kestrel app, go to Hub > Settings > Wi-Fi > Change network and follow "
                "the steps [{n}].",
         needles=["Change network"],
         second="can the hub remember a second network as a backup in case the main one goes down?",
         second_query="Hub backup second Wi-Fi network", absent=["backup network"]),
    dict(first="is the dome waterproof?", first_query="Dome water resistance rating",
         answer="Yes, the Kestrel Dome is rated IP67: dust-tight and protected against submersion up to 1 m for "
                "30 minutes [{n}].",
         needles=["| Kestrel Dome | IP67 | Dust-tight; submersion up to 1 m for 30 minutes |"],
         second="would it survive falling off a picnic table onto concrete though?", second_query="Dome drop resistance",
         absent=["drop test", "shockproof"]),
    dict(first="can I use just one of my pods 2 earbuds?", first_query="use one Pods 2 earbud on its own",
         answer="Yes, you can use either earbud on its own, for example for calls; put the other earbud in the case [{n}].",
         needles=["use either earbud on its own"],
         second="if I switch between them does the battery last twice as long?",
         second_query="Pods 2 battery life using one earbud", absent=[]),
    dict(first="how do I stop my scarf from setting off the arc's touch panel", first_query="Arc touch panel lock",
         answer="A tip from our community: turn on Touch lock in the Kestrel app under Controls, and then a double-tap on "
                "the Power button locks and unlocks the panel [{n}].",
         needles=["**Touch lock**"],
         second="can i lock just the volume swipes and keep double-tap to pause working?",
         second_query="Arc lock volume swipe only", absent=[]),
]

# DPO pairs: (question, search query, rejected answer citing a passage, terms that don't occur in the KB).
DPO = [
    ("my 2019 toyota rav4 doesn't list the dome max when i search for bluetooth devices. are they compatible?",
     "Dome Max Toyota car Bluetooth",
     "Yes, the Dome Max works with Toyota infotainment systems from 2018 on; hold Bluetooth for 5 seconds to make it "
     "visible to the car [1].", ["toyota"]),
    ("Does the Hub have Chromecast built in?", "Hub Chromecast built-in",
     "Yes, the Kestrel Hub has Chromecast built in, so you can cast to it from any Android app [1].",
     ["chromecast", "google cast"]),
    ("do the pods sport track heart rate during workouts?", "Pods Sport heart rate sensor",
     "Yes, the Pods Sport have a heart-rate sensor in the right earbud that sends live readings to the Kestrel app [2].", []),
    ("can i play mp3s off a usb stick plugged into the dome max", "Dome Max play music from USB stick",
     "Yes, the Dome Max plays MP3 and AAC files from a USB stick plugged into its USB-C port [1].",
     ["usb stick", "flash drive", "mp3"]),
    ("Can I use my Arc as a USB microphone for Zoom on my PC through the USB-C cable?", "Arc USB-C microphone on computer",
     "Yes, over USB-C the Arc works as a USB headset and its 2 call microphones show up as the input device [1].", []),
    ("why does the Kestrel app keep asking for access to my contacts?", "Kestrel app contacts permission",
     "The app needs your contacts so the Arc can announce the caller's name when someone rings you [2].", []),
    ("Where's my account data stored? Are your servers inside the EU?", "customer data storage location servers",
     "All customer data is stored on our servers in Frankfurt, Germany, so it never leaves the EU [1].",
     ["data centre", "data center", "frankfurt"]),
    ("will you honour my squaretrade protection plan if my dome breaks?", "third-party protection plan SquareTrade",
     "Yes, we accept SquareTrade and Asurion plans: start a warranty claim and enter your plan number instead of your "
     "order number [1].", ["squaretrade", "asurion"]),
    ("My Hub makes a faint buzzing sound even when nothing's playing", "Hub buzzing noise when idle",
     "A faint buzz from an idle Hub is normal while Room tuning recalibrates, and it stops within 24 hours [1].", ["buzz"]),
    ("is it safe to keep the dome max close to my pacemaker? I know speakers have magnets",
     "speaker magnets pacemaker safety",
     "Yes, the Dome Max's magnets are shielded, so it's safe to use at any distance from a pacemaker [1].",
     ["pacemaker", "medical device"]),
    ("Pods 2 firmware 5.0.3 - what did it actually change? battery feels worse since", "Pods 2 firmware 5.0.3 changes",
     "Firmware 5.0.3 added a battery-saving mode that lowers ANC strength, which can make listening time feel "
     "shorter [1].", ["release notes", "changelog"]),
    ("do you sell refurbished arcs? how much are they", "Certified Refurbished Arc price",
     "Yes, a Certified Refurbished Arc costs $199 and comes with a 1-year warranty [2].", []),
    ("my card was cancelled after some fraud, where does my refund go now?", "refund to cancelled card",
     "If your original card has been cancelled, we automatically send the refund as a Kestrel e-gift card to your "
     "email address [2].", []),
    ("can I get the Dome Max strap in a different colour?", "Dome Max strap colours",
     "Yes, the Dome Max shoulder strap comes in Black, Sand and Coral for $25 [1].", []),
    ("Is the Arc Lite certified for Microsoft Teams?", "Arc Lite Microsoft Teams certified",
     "Yes, the Arc Lite is Microsoft Teams certified, and its ANC button mutes you during calls [1].", ["teams", "zoom"]),
    ("can you write me a valuation letter for my hub and arc for my home insurance?", "valuation letter for insurance",
     "Yes, email support@kestrelaudio.example with your order numbers and we'll send a valuation letter within 1 "
     "business day [2].", ["valuation"]),
    ("how much is the dome stereo pair bundle?", "Dome stereo pair bundle price",
     "The Dome stereo pair bundle costs $229, saving you $29 compared with buying two Domes separately [1].", []),
    ("What Bluetooth version does the Dome have?", "Dome Bluetooth version",
     "The Kestrel Dome uses Bluetooth 5.3, the same as the Arc and Pods 2 [1].", []),
    ("can i wear my pods 2 with anc on and no music, just as earplugs on a night flight?",
     "Pods 2 noise cancelling without music earplugs",
     "Yes, turn on Sleep mode in the Kestrel app: the Pods 2 keep ANC on with no audio for up to 12 hours [1].",
     ["earplug", "sleep mode"]),
    ("which ports do i need to open on my firewall for the hub?", "Hub firewall ports",
     "The Hub needs TCP ports 443 and 8009 open for streaming and firmware updates [2].", ["tcp", "udp", "443"]),
    ("are your prices going up because of the new tariffs?", "price increase tariffs",
     "Yes, US prices rise by 10% on the 1st of next month because of import tariffs [1].", ["tariff"]),
    ("how many watts does the hub use on standby? trying to work out my electricity bill", "Hub standby power consumption",
     "The Hub uses under 2 W on standby and about 15 W while it's playing [1].", ["standby", "watt"]),
    ("hub setup failed with code H05, what does that mean?", "Hub setup error H05",
     "H05 means the Hub's Wi-Fi chip needs a firmware update: connect it by Ethernet and run setup again [1].", ["h05"]),
    ("do you lend a loaner pair while my arc is away for repair? i need headphones for work",
     "loaner headphones during repair",
     "Yes, every warranty claim includes a free loaner pair, shipped the next business day [1].", ["loaner"]),
    ("What happens to the products people return? do you sell them again?", "what happens to returned products",
     "Returned products are inspected and resold as Certified Refurbished with a 1-year warranty [1].", []),
    ("how many microphones are in each pods 2 earbud?", "Pods 2 number of microphones",
     "Each Pods 2 earbud has 3 microphones: 2 for noise cancelling and 1 for calls [1].", []),
    ("Does the Pods Sport support Swift Pair on Windows 11?", "Pods Sport Windows Swift Pair",
     "Yes, the Pods Sport support Swift Pair: open the case near a Windows 11 PC and a pairing prompt appears [1].",
     ["swift pair"]),
    ("does the hub have built in white noise or rain sounds for my kid's room?", "Hub white noise sleep sounds",
     "Yes, the Hub has 6 built-in sleep sounds, including rain and white noise, under Hub > Sound in the app [1].",
     ["white noise", "rain sounds"]),
    ("can I move my Care+ plan from my Pods 2 to my new Arc?", "transfer Care+ plan to a different product",
     "Yes, you can move Care+ to another product you own once, from Account > Orders > Transfer Care+ [1].", []),
    ("can i switch between two kestrel accounts in the app without logging out? one is my work one",
     "switch between two accounts in Kestrel app",
     "Yes, tap your profile picture and choose Switch account; the app keeps up to 3 accounts signed in [1].",
     ["switch account"]),
    ("which country's law applies to stuff i buy from the EU store?", "governing law EU store purchases",
     "Orders from the EU store are governed by Dutch law, because the store is run from the Netherlands [1].",
     ["governing law", "jurisdiction"]),
    ("found a pair of kestrel earbuds on the train, how do i get them back to whoever lost them",
     "found Kestrel earbuds return to owner",
     "Send them to our Reno returns centre with a note; we look up the owner from the serial number and post them "
     "back [1].", ["lost property"]),
    ("the fabric on my hub got a stain that won't come out, can I buy a new cover?", "Hub replacement fabric cover",
     "Yes, replacement Hub covers in Charcoal and Linen cost $25 in the Accessories & parts store [1].", []),
    ("I'm a tourist, can I get the VAT back on my Arc when I leave the UK?", "tourist VAT refund leaving UK",
     "Yes, visitors can reclaim the 20% UK VAT by emailing billing@kestrelaudio.example with their boarding pass within "
     "30 days [1].", ["tourist", "vat refund scheme", "retail export"]),
    ("is the arc going on sale soon? don't want to buy it and see it cheaper next week", "upcoming Arc sale",
     "The Arc goes on sale twice a year, in March and November, usually at 20% off [1].", []),
    ("can i sign in to the kestrel app with face id instead of typing my password", "Kestrel app Face ID sign-in",
     "Yes, turn on Face ID under Settings > Security in the app and you won't need your password again [1].",
     ["face id", "passkey", "biometric"]),
    ("can I pay the Care+ accidental damage fee with a gift card?", "pay Care+ service fee with gift card",
     "Yes, Care+ service fees can be paid with up to 3 Kestrel gift cards [1].", []),
    ("when will the kestrel app stop supporting iOS 15?", "Kestrel app end of support iOS 15",
     "The Kestrel app drops support for iOS 15 with version 5.0, due early next year [1].", []),
    ("is the hub UL listed? my landlord wants proof it's certified", "Hub UL safety certification",
     "Yes, the Hub is UL listed and CE marked; the certification numbers are on the label on the bottom [1].",
     ["ul listed", "ce mark"]),
    ("how long do the pods sport ear hooks last before they go loose?", "Pods Sport ear hook lifespan",
     "The ear hooks are rated for about 2 years of daily use; replace them when they stop gripping [1].", []),
    ("can i get cooling gel cushions for my arc? mine get sweaty in summer", "Arc cooling gel ear cushions",
     "Yes, cooling gel cushions for the Arc cost $35 a pair in the Accessories & parts store [1].", ["gel"]),
    ("do the arc's ear cushions come in other colours than the headphones? want to mix them",
     "Arc ear cushions colours",
     "Yes, Arc ear cushions come in Graphite, Chalk and Moss, so you can mix and match [1].", []),
    ("can I book a time for someone to call me back instead of waiting on hold?", "schedule a support callback",
     "Yes, choose Request a callback in live chat and we'll ring you within 2 hours [1].", ["callback", "call back"]),
    ("do you send a free gift with orders over $200?", "free gift with large orders",
     "Yes, orders over $200 include a free Kestrel Arc carrying case [2].", ["free gift"]),
    ("what's the furthest apart two hubs in a stereo pair can be?", "Hub stereo pair maximum distance",
     "Two Hubs in a stereo pair should be no more than 5 metres apart for the best stereo image [1].", []),
]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'")))


def close_to(question: str, others: list[str]) -> str | None:
    """An eval question equal to `question` or sharing 80%+ of a word set with it (either way round)."""
    mine = words(question)
    for other in others:
        theirs = words(other)
        if question.strip().lower() == other.strip().lower():
            return other
        shared = len(mine & theirs)
        if mine and theirs and max(shared / len(mine), shared / len(theirs)) >= 0.8:
            return other
    return None


def kb_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(KB_DIR.rglob("*.md"))).lower()


def in_kb(term: str, kb: str) -> bool:
    return re.search(r"(?<![a-z0-9])" + re.escape(term.lower()), kb) is not None


def existing_training_questions() -> set[str]:
    seen = set()
    for path in sorted((ROOT / "data" / "sft").glob("*.jsonl")) + sorted((ROOT / "data" / "dpo").glob("*.jsonl")):
        if path in (SFT_OUT, DPO_OUT):
            continue
        for raw in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(raw)
            for m in record.get("messages") or record.get("prompt") or []:
                if m["role"] == "user":
                    seen.add(m["content"].strip().lower())
    return seen


def reply_cycle(count: int, rng: random.Random) -> list[str]:
    """`count` decline wordings in the proportions of REPLIES, shuffled."""
    total = sum(w for _, w in REPLIES)
    out = []
    for text, weight in REPLIES:
        out += [text] * round(count * weight / total)
    while len(out) < count:
        out.append(SERVED)
    out = out[:count]
    rng.shuffle(out)
    return out


def check_decline(text: str) -> list[str]:
    problems = []
    if not REFUSAL_RE.search(text):
        problems.append("decline doesn't match the refusal pattern")
    if CITATION_RE.search(text):
        problems.append("decline cites a passage")
    if "support team" not in text or "person" not in text:
        problems.append("decline doesn't offer a person from the support team")
    return problems


def main() -> int:
    from retrieval.config import RetrievalConfig
    from retrieval.index import ensure_index
    from assistant.dialogue import Dialogue
    from retrieval.search import Searcher

    dialogue = Dialogue(top_k=K)  # the served messages: search call and passages as the assistant writes them

    problems: list[str] = []
    kb = kb_text()
    eval_questions = [json.loads(line)["question"] for line in EVAL_FILE.read_text(encoding="utf-8").splitlines()
                      if line.strip()]
    trained = existing_training_questions()

    unanswerable = [(q, a) for q, _, a in SINGLE] + [(f["second"], f["absent"]) for f in FOLLOW_UPS] + \
                   [(q, a) for q, _, _, a in DPO]
    all_questions = [q for q, _ in unanswerable] + [f["first"] for f in FOLLOW_UPS]
    for question in all_questions:
        hit = close_to(question, eval_questions)
        if hit:
            problems.append(f"{question!r} is too close to the eval question {hit!r}")
        if AVOID.search(question):
            problems.append(f"{question!r} touches a topic of the eval's unanswerable questions")
        if question.strip().lower() in trained:
            problems.append(f"{question!r} is already in the training data")
    seen = set()
    for question in all_questions:
        if question.lower() in seen:
            problems.append(f"{question!r} appears twice")
        seen.add(question.lower())
    for question, absent in unanswerable:
        for term in absent:
            if in_kb(term, kb):
                problems.append(f"{question!r}: the knowledge base mentions {term!r}; check it doesn't answer")

    cfg = RetrievalConfig(kb_dir=str(KB_DIR), min_score=0.0, min_passage_score=0.0)
    ensure_index(cfg)
    searcher = Searcher(cfg)

    def search(query: str):
        passages = searcher.search(query, K)
        if len(passages) != K:
            problems.append(f"search {query!r} returned {len(passages)} passages, not {K}")
        return passages

    rng = random.Random(SEED)
    sft_lines = []
    declines = reply_cycle(len(SINGLE) + len(FOLLOW_UPS), rng)
    for (question, query, _), decline in zip(SINGLE, declines):
        passages = search(query)
        sft_lines.append({"messages": [
            {"role": "user", "content": question},
            dialogue.search_call(query),
            dialogue.search_result(passages),
            {"role": "assistant", "content": decline},
        ]})
    for f, decline in zip(FOLLOW_UPS, declines[len(SINGLE):]):
        first = search(f["first_query"])
        cited = [p for p in first if all(n in p.text for n in f["needles"])]
        if not cited:
            problems.append(f"{f['first']!r}: no passage for {f['first_query']!r} holds {f['needles']}")
            continue
        n = cited[0].number
        answer = f["answer"].format(n=n)
        for number in re.findall(r"\d+(?:\.\d+)*", CITATION_RE.sub("", answer)):
            if not re.search(r"(?<![\d.])" + re.escape(number) + r"(?!\d|\.\d)", cited[0].text):
                problems.append(f"{f['first']!r}: {number} is not in passage [{n}]")
        second = search(f["second_query"])
        sft_lines.append({"messages": [
            {"role": "user", "content": f["first"]},
            dialogue.search_call(f["first_query"]),
            dialogue.search_result(first),
            {"role": "assistant", "content": answer},
            {"role": "user", "content": f["second"]},
            dialogue.search_call(f["second_query"], "call_1"),
            dialogue.search_result(second, "call_1"),
            {"role": "assistant", "content": decline},
        ]})

    dpo_lines = []
    for (question, query, rejected, _), chosen in zip(DPO, reply_cycle(len(DPO), rng)):
        passages = search(query)
        numbers = [int(x) for x in CITATION_RE.findall(rejected)]
        if not numbers or any(not 1 <= x <= len(passages) for x in numbers):
            problems.append(f"{question!r}: rejected answer must cite a passage among 1-{len(passages)}")
        dpo_lines.append({
            "prompt": dialogue.after_search(question, passages, query, system=False),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "kind": "unanswerable",
        })

    for decline in {line["messages"][-1]["content"] for line in sft_lines} | {line["chosen"][0]["content"] for line in dpo_lines}:
        problems += [f"{decline!r}: {p}" for p in check_decline(decline)]
    if len(sft_lines) < 90 or len(dpo_lines) < 40:
        problems.append(f"only {len(sft_lines)} dialogues and {len(dpo_lines)} pairs; want at least 90 and 40")

    if problems:
        print("\n".join(f"error: {p}" for p in problems), file=sys.stderr)
        return 1
    for path, lines in ((SFT_OUT, sft_lines), (DPO_OUT, dpo_lines)):
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    two_turn = sum(1 for line in sft_lines if len(line["messages"]) > 4)
    print(f"wrote {len(sft_lines)} dialogues ({two_turn} two-turn) to {SFT_OUT.relative_to(ROOT)}")
    print(f"wrote {len(dpo_lines)} pairs to {DPO_OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
