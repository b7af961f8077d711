"""The commented starter journey.yaml written by ``journeymap init``."""

from __future__ import annotations

STARTER_SPEC = """\
# journey.yaml: the designed customer journey map.
# Every cell of this map is computed from your data by journeymap.
# Check it with:  journeymap validate journey.yaml
# Field reference: journeymap schema
version: 1
name: Online shop
description: The journey of a customer from first hearing of us to buying again.

personas:
  - id: bargain_hunter            # ids: lowercase snake_case, unique per kind
    name: Bargain hunter
    description: Compares prices and waits for deals.
    goals: [Find the best price]
    frustrations: [Hidden delivery costs]
    rule:                         # optional: assign customers by their attributes
      segment: price_sensitive    # a scalar means "equals"; all conditions must hold
  - id: loyal_regular
    name: Loyal regular
    description: Buys often and knows the shop well.
    goals: [Reorder quickly]
    frustrations: [Having to log in again]
    rule:
      orders_last_year: {gte: 5}  # operators: eq ne in not_in gt gte lt lte regex exists

stages:                           # in journey order
  - id: awareness
    name: Awareness
    goal: Learn that we exist     # the customer's goal in this stage
    owner: Marketing              # owning department
  - id: consideration
    name: Consideration
    goal: Find a product that fits
    owner: Marketing
  - id: decision
    name: Decision
    goal: Be sure about the choice
    owner: Product
  - id: purchase
    name: Purchase
    goal: Pay without surprises
    owner: E-commerce
  - id: post_purchase
    name: Post-purchase
    goal: Get the order and help if needed
    owner: Customer service

touchpoints:                      # file order = match priority: the first match wins
  - id: social_ad
    name: Social ad
    stage: awareness
    channel: social
    owner: Marketing
    expectation: Relevant, not pushy
    match:                        # all given parts must hold
      event: ad_click             # exact name | [list, of, names] | {regex: "^ad_"}
      channel: social             # optional: the event's channel
  - id: product_page
    name: Product page
    stage: consideration
    channel: web
    owner: Product
    expectation: Clear price and delivery cost
    match:
      event: [product_view, product_zoom]
    kpis:
      - {metric: conversion, target: 0.3, direction: above}
  - id: reviews
    name: Reviews
    stage: decision
    channel: web
    owner: Product
    expectation: Honest reviews from real buyers
    match:
      event: {regex: "^review_"}
  - id: checkout
    name: Checkout
    stage: purchase
    channel: web
    owner: E-commerce
    expectation: Quick, no surprises
    match:
      event: checkout_step
      where: {step: {lte: 3}}     # conditions on event properties
    kpis:
      - {metric: dropoff, target: 0.2, direction: below}
  - id: order_confirmed
    name: Order confirmed
    stage: purchase
    channel: web
    owner: E-commerce
    match:
      event: order_completed
  - id: support_call
    name: Support call
    stage: post_purchase
    channel: phone
    owner: Customer service
    expectation: Solved in one call
    match:
      event: call_started
      channel: [phone, callcentre]
    kpis:
      - {metric: csat, target: 4.2, direction: above}

goal:
  touchpoint: order_confirmed     # reaching it counts as converting

pain_points:
  - id: late_delivery_cost
    title: Delivery cost shown late
    touchpoint: checkout          # or stage: purchase
    description: Customers learn the delivery cost only at the last step.
    severity: high                # low medium high critical

opportunities:
  - id: show_costs_early
    title: Show delivery cost on the product page
    touchpoint: product_page
    impact: 4                     # 1..5
    effort: 2                     # 1..5
    owner: Product
    status: idea                  # idea planned in_progress done dropped
"""


def starter_spec_text() -> str:
    """A commented, valid journey.yaml with the five classic stages."""
    return STARTER_SPEC
